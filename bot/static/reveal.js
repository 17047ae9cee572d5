"use strict";
// Decrypts a oncelink secret in the browser. Protocol v1 (docs/SECURITY.md): the link key
// lives in location.hash, which the browser never sends to any server. We send only two
// derived proofs; the server answers with ciphertext exactly once and we decrypt here.
(function () {
  const LABEL = "oncelink/v1/";
  const ITERATIONS = 600000;
  const utf8 = new TextEncoder();
  const subtle = window.crypto && window.crypto.subtle;

  function b64decode(text, length) {
    if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
    let bin;
    try {
      bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    } catch (e) {
      return null;
    }
    if (bin.length !== length) return null;
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return b64encode(bytes) === text ? bytes : null; // reject non-canonical (truncated) forms
  }

  function b64encode(bytes) {
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  async function hkdf(material, id, label) {
    const key = await subtle.importKey("raw", material, "HKDF", false, ["deriveBits"]);
    const params = { name: "HKDF", hash: "SHA-256", salt: utf8.encode(LABEL + id),
                     info: utf8.encode(LABEL + label) };
    return new Uint8Array(await subtle.deriveBits(params, key, 256));
  }

  async function passphraseKey(passphrase, id) {
    if (!passphrase) return new Uint8Array(0);
    const raw = utf8.encode(passphrase.normalize("NFC"));
    const key = await subtle.importKey("raw", raw, "PBKDF2", false, ["deriveBits"]);
    const params = { name: "PBKDF2", hash: "SHA-256", salt: utf8.encode(LABEL + id),
                     iterations: ITERATIONS };
    return new Uint8Array(await subtle.deriveBits(params, key, 256));
  }

  async function deriveKeys(linkKey, passKey, id) {
    const material = new Uint8Array(linkKey.length + passKey.length);
    material.set(linkKey);
    material.set(passKey, linkKey.length);
    return {
      linkProof: await hkdf(linkKey, id, "link-proof"),
      encKey: await hkdf(material, id, "enc-key"),
      auth: await hkdf(material, id, "auth"),
    };
  }

  async function decryptBytes(encKey, nonce, ciphertext, id) {
    const key = await subtle.importKey("raw", encKey, "AES-GCM", false, ["decrypt"]);
    const params = { name: "AES-GCM", iv: nonce, additionalData: utf8.encode(LABEL + id) };
    return new Uint8Array(await subtle.decrypt(params, key, ciphertext));
  }

  async function decrypt(encKey, nonce, ciphertext, id) {
    const plain = await decryptBytes(encKey, nonce, ciphertext, id);
    return new TextDecoder("utf-8", { fatal: true }).decode(plain);
  }

  // Answers asked of someone outside Slack are sealed to the requester's P-256 key pair
  // (d, Q): the page draws an ephemeral key e, enc_key = HKDF(ECDH(e, Q)), and sends its
  // public key E in front of the ciphertext; the requester opens it with ECDH(d, E).
  const ECDH = { name: "ECDH", namedCurve: "P-256" };
  const PUBLIC_KEY_BYTES = 65;

  function importPublic(raw) {
    return subtle.importKey("raw", raw, ECDH, false, []);
  }

  // WebCrypto takes a raw private scalar only as a JWK, with its public point beside it.
  function importPrivate(d, publicRaw) {
    const jwk = { kty: "EC", crv: "P-256", ext: false, key_ops: ["deriveBits"],
                  d: b64encode(d), x: b64encode(publicRaw.subarray(1, 33)),
                  y: b64encode(publicRaw.subarray(33, 65)) };
    return subtle.importKey("jwk", jwk, ECDH, false, ["deriveBits"]);
  }

  async function answerKey(privateKey, publicRaw, id) {
    const shared = new Uint8Array(await subtle.deriveBits(
      { name: "ECDH", public: await importPublic(publicRaw) }, privateKey, 256));
    try {
      return await hkdf(shared, id, "outside/enc-key");
    } finally {
      shared.fill(0);
    }
  }

  async function sealAnswer(publicRaw, plain, id) {
    const ephemeral = await subtle.generateKey(ECDH, false, ["deriveBits"]);
    const encKey = await answerKey(ephemeral.privateKey, publicRaw, id);
    const nonce = window.crypto.getRandomValues(new Uint8Array(12));
    const key = await subtle.importKey("raw", encKey, "AES-GCM", false, ["encrypt"]);
    encKey.fill(0);
    const sealed = new Uint8Array(await subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: utf8.encode(LABEL + id) }, key, plain));
    const epk = new Uint8Array(await subtle.exportKey("raw", ephemeral.publicKey));
    const out = new Uint8Array(epk.length + sealed.length);
    out.set(epk);
    out.set(sealed, epk.length);
    return { nonce, sealed: out };
  }

  async function openAnswer(d, publicRaw, nonce, sealed, id) {
    const encKey = await answerKey(await importPrivate(d, publicRaw),
                                   sealed.subarray(0, PUBLIC_KEY_BYTES), id);
    return decryptBytes(encKey, nonce, sealed.subarray(PUBLIC_KEY_BYTES), id);
  }

  // A file secret's plaintext starts with byte 0xFF, which no UTF-8 text does, then its
  // header's length (2 bytes) and header (JSON: name, type), then the file's bytes.
  function readFile(plain) {
    if (plain.length < 3 || plain[0] !== 0xff) return null;
    const length = (plain[1] << 8) | plain[2];
    const header = JSON.parse(new TextDecoder("utf-8", { fatal: true })
      .decode(plain.subarray(3, 3 + length)));
    return { name: safeName(header.name), data: plain.subarray(3 + length) };
  }

  // The sender chose the name: control and direction characters could disguise it (an
  // "invoice\u202Egpj.exe" reads as "invoiceexe.jpg"), slashes could pose as a path, leading
  // dots hide a file. They are dropped, so the name shown is the name saved, and it is cut
  // to the 255 bytes a file system allows.
  const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\/\\]/g;
  function safeName(raw) {
    let name = String(raw || "").replace(UNSAFE, "").trim().replace(/^\.+/, "");
    const encoder = new TextEncoder();
    while (encoder.encode(name).length > 255) name = Array.from(name).slice(0, -1).join("");
    return name || "secret";
  }

  function sizeText(size) {
    if (size >= 1048576) return (size / 1048576).toFixed(1).replace(/\.0$/, "") + " MiB";
    if (size >= 1024) return (size / 1024).toFixed(1).replace(/\.0$/, "") + " KiB";
    return size + (size === 1 ? " byte" : " bytes");
  }

  // What the compose and upload pages say of a file over MAX_FILE_SIZE.
  function fileTooLarge(size, max) {
    return `That file is ${sizeText(size)}; the most this app takes is ${sizeText(max)}.`;
  }

  // The Copy button of the reveal and compose pages: the clipboard API where the page may
  // use it, else the selection and the older copy command.
  async function copyFrom(output) {
    try {
      await navigator.clipboard.writeText(output.value);
    } catch (e) {
      output.select();
      document.execCommand("copy");
    }
  }

  // What the compose and upload pages check before any work: a text or one file, not both
  // and not neither, within the limits. The sentence to show, or "" when it may go ahead.
  function inputProblem(file, text, maxFile) {
    if (file && text.trim()) return "Write a secret or choose a file, not both.";
    if (!file && !text.trim()) return "Write the secret, or choose a file.";
    if (file && file.size > maxFile) return fileTooLarge(file.size, maxFile);
    if (file && file.size === 0) return "That file is empty.";
    return "";
  }

  // The bytes those pages seal: the text, or the file with its name and type (filePlaintext).
  // Throws Error with the sentence to show when the name or the text is too long.
  async function inputPlaintext(file, text, maxText, verb) {
    let plain;
    try {
      plain = file ? await filePlaintext(file) : utf8.encode(text);
    } catch (e) {
      throw new Error("That file's name is too long; rename it and try again.");
    }
    if (!file && plain.length > maxText) {
      throw new Error(`The secret is too long (at most ${maxText} bytes); ${verb} it as a file.`);
    }
    return plain;
  }

  // A file's plaintext as a file secret holds it (bot/crypto.py file_plaintext): mark,
  // header length, header (its name and type), bytes. RangeError for a too-long name.
  async function filePlaintext(file) {
    const header = utf8.encode(JSON.stringify({ name: file.name, type: file.type || "" }));
    if (header.length > 1024) throw new RangeError("name");
    const data = new Uint8Array(await file.arrayBuffer());
    const plain = new Uint8Array(3 + header.length + data.length);
    plain[0] = 0xff;
    plain[1] = header.length >> 8;
    plain[2] = header.length & 0xff;
    plain.set(header, 3);
    plain.set(data, 3 + header.length);
    return plain;
  }

  // Exposed so tests can check the shared vector against this very code, and so the
  // compose and upload pages seal with it.
  window.OnceLink = {
    b64decode, b64encode, hkdf, passphraseKey, deriveKeys, decrypt, filePlaintext,
    importPrivate, answerKey, sealAnswer, openAnswer, sizeText, fileTooLarge, inputProblem,
    inputPlaintext, copyFrom,
  };

  const app = document.getElementById("app");
  if (!app || !app.dataset.secretId) return;
  const id = app.dataset.secretId;
  const form = document.getElementById("reveal-form");
  const button = document.getElementById("reveal");
  const passInput = document.getElementById("passphrase");
  const message = document.getElementById("message");
  const result = document.getElementById("result");
  const output = document.getElementById("secret");
  const intro = document.getElementById("intro");
  const fileResult = document.getElementById("file-result");
  const fileName = document.getElementById("file-name");
  const fileSize = document.getElementById("file-size");
  const downloadButton = document.getElementById("download");
  let fileSecret = null;
  let fileUrl = null;

  function say(text, kind) {
    message.textContent = text;
    message.className = kind || "";
  }

  // `#k`; or, for an answer asked of someone outside Slack, `#d.Q`: the requester's private
  // key (the link's proofs come from it) and its public point, which the upload link never
  // held with `d` (SECURITY.md); or `#k.g`, such an answer's link from before it was sealed
  // to `d`, whose proof comes from the gate key `g`.
  const fragment = window.location.hash.slice(1).split(".");
  const linkKey = fragment.length <= 2 ? b64decode(fragment[0], 32) : null;
  const answerPublic = fragment.length === 2 ? b64decode(fragment[1], PUBLIC_KEY_BYTES) : null;
  const gateKey = fragment.length === 2 && !answerPublic ? b64decode(fragment[1], 32) : null;
  if (!subtle) {
    say("This browser cannot decrypt the secret here (it needs a secure https page).", "error");
    return;
  }
  if (!linkKey || (fragment.length === 2 && !gateKey && !answerPublic)) {
    say("This link is incomplete: part of it is missing or changed. Copy the whole link, " +
        "including everything after the #, and open it again. The secret is still safe.", "error");
    return;
  }
  form.hidden = false;

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    say("Decrypting…");
    try {
      const passphrase = passInput ? passInput.value : "";
      const keys = await deriveKeys(linkKey, await passphraseKey(passphrase, id), id);
      const linkProof = gateKey ? await hkdf(gateKey, id, "link-proof") : keys.linkProof;
      const response = await fetch(window.location.pathname, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ link_proof: b64encode(linkProof), auth: b64encode(keys.auth) }),
        credentials: "omit",
        cache: "no-store",
      });
      let answer = {};
      try { answer = await response.json(); } catch (e) { answer = {}; }
      if (response.ok) {
        const nonce = b64decode(answer.nonce, 12);
        const text = String(answer.ciphertext || "");
        const ciphertext = b64decode(text, Math.floor((text.length * 3) / 4));
        const plain = answerPublic
          ? await openAnswer(linkKey, answerPublic, nonce, ciphertext, id)
          : await decryptBytes(keys.encKey, nonce, ciphertext, id);
        const file = readFile(plain);
        form.hidden = true;
        if (intro) intro.hidden = true;
        say("");
        // The key has done its job: drop it from the address bar and history.
        history.replaceState(null, "", window.location.pathname);
        if (file) {
          // Never shown inline: only saved, as plain bytes, when the person asks.
          fileSecret = file;
          fileName.textContent = file.name;
          fileSize.textContent = sizeText(file.data.length);
          document.querySelector("h1").textContent = "Your one-time file";
          fileResult.hidden = false;
          downloadButton.focus();
          return;
        }
        output.value = new TextDecoder("utf-8", { fatal: true }).decode(plain);
        document.querySelector("h1").textContent = "Your one-time secret";
        result.hidden = false;
        output.focus();
        output.select();
        return;
      }
      say(answer.message || "Something went wrong. Please try again.", "error");
      if (answer.error === "wrong_passphrase" && passInput) {
        passInput.value = "";
        passInput.focus();
      } else if (answer.error !== "unavailable" && answer.error !== "rate_limited") {
        form.hidden = true;
      }
    } catch (e) {
      say("Could not reach the server or decrypt the secret. Please try again.", "error");
    } finally {
      button.disabled = false;
    }
  });

  document.getElementById("copy").addEventListener("click", async () => {
    await copyFrom(output);
    say("Copied.", "ok");
  });

  downloadButton.addEventListener("click", () => {
    if (!fileSecret) return;
    // application/octet-stream whatever the sender said: saved exactly as sent, never
    // opened or rendered by this page.
    if (fileUrl) URL.revokeObjectURL(fileUrl);
    const blob = new Blob([fileSecret.data], { type: "application/octet-stream" });
    fileUrl = URL.createObjectURL(blob);
    const anchor = document.createElement("a");
    anchor.href = fileUrl;
    anchor.download = fileSecret.name;
    anchor.rel = "noopener";
    document.body.appendChild(anchor);
    anchor.click();
    anchor.remove();
    say("Saved to your downloads.", "ok");
  });

  // Never leave the plaintext in a page that the back/forward cache could bring back.
  window.addEventListener("pagehide", () => {
    output.value = "";
    result.hidden = true;
    if (fileSecret) fileSecret.data.fill(0);
    fileSecret = null;
    if (fileUrl) URL.revokeObjectURL(fileUrl);
    fileUrl = null;
    fileName.textContent = "";
    fileSize.textContent = "";
    fileResult.hidden = true;
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) window.location.reload();
  });
})();
