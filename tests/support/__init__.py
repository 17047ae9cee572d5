"""What tests stand on, for conftest.py's fixtures and for tests themselves:

- ports.py          free loopback ports for the servers tests start
- redis_servers.py  a private redis-server, a 3-master cluster, a Sentinel set-up
- stores.py         a store of either kind (and Redis's cluster and Sentinel forms)
- app.py            Settings for tests and the app served on a real port
- process.py        `oncelink serve` as a child process; snippets in a fresh interpreter
- browser.py        Debian's Chromium for Playwright
- links.py          what a browser computes from a link: proofs, the decrypted secret
- clock.py          a clock a test moves by hand
"""
