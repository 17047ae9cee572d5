"use strict";
// Seals a secret in the browser with protocol v1 (docs/SECURITY.md) and uploads only the
// ciphertext and two verifiers. The link key is drawn here and never leaves this page
// unless the creator ticks "send it in Slack". Uses reveal.js's derivations (window.OnceLink).
(function () {
  const LABEL = "oncelink/v1/";
  const utf8 = new TextEncoder();
  const subtle = window.crypto && window.crypto.subtle;
  const app = document.getElementById("app");
  if (!app || !app.dataset.composeId || !window.OnceLink) return;
  const OL = window.OnceLink;
  const id = app.dataset.composeId;
  const linkBase = app.dataset.linkBase;
  const maxFile = Number(app.dataset.maxFileSize);
  const maxText = Number(app.dataset.maxText);
  const minPassphrase = Number(app.dataset.minPassphrase);
  const form = document.getElementById("compose-form");
  const textInput = document.getElementById("text");
  const fileInput = document.getElementById("file");
  const ttlInput = document.getElementById("ttl");
  const passInput = document.getElementById("passphrase");
  const passOn = document.getElementById("pass-on");
  const button = document.getElementById("create");
  const message = document.getElementById("message");
  const result = document.getElementById("result");
  const output = document.getElementById("link");
  const intro = document.getElementById("intro");

  function say(text, kind) {
    message.textContent = text;
    message.className = kind || "";
  }


  if (!subtle) {
    say("This browser cannot encrypt here (it needs a secure https page).", "error");
    return;
  }
  form.hidden = false;

  // Dropping a file anywhere on the form picks it, as the file field itself does.
  form.addEventListener("dragover", (event) => event.preventDefault());
  form.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer && event.dataTransfer.files.length) {
      fileInput.files = event.dataTransfer.files;
      fileInput.dispatchEvent(new Event("change"));
    }
  });
  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file && file.size > maxFile) {
      say(OL.fileTooLarge(file.size, maxFile), "error");
    } else {
      say("");
    }
  });

  async function sha256(bytes) {
    return new Uint8Array(await subtle.digest("SHA-256", bytes));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    const text = textInput.value;
    const passphrase = passInput.value;
    const problem = OL.inputProblem(file, text, maxFile);
    if (problem) return say(problem, "error");
    if (passphrase && passphrase.normalize("NFC").length < minPassphrase) {
      return say(`Use at least ${minPassphrase} characters for the passphrase, or none.`, "error");
    }
    button.disabled = true;
    say("Encrypting…");
    try {
      let plain;
      try {
        plain = await OL.inputPlaintext(file, text, maxText, "share");
      } catch (e) {
        return say(e.message, "error");
      }
      const linkKey = window.crypto.getRandomValues(new Uint8Array(32));
      const keys = await OL.deriveKeys(linkKey, await OL.passphraseKey(passphrase, id), id);
      const nonce = window.crypto.getRandomValues(new Uint8Array(12));
      const key = await subtle.importKey("raw", keys.encKey, "AES-GCM", false, ["encrypt"]);
      const sealed = await subtle.encrypt(
        { name: "AES-GCM", iv: nonce, additionalData: utf8.encode(LABEL + id) }, key, plain);
      plain.fill(0);
      plain = null;
      const link = linkBase + "#" + OL.b64encode(linkKey);
      const head = {
        version: 1,
        nonce: OL.b64encode(nonce),
        link_verifier: OL.b64encode(await sha256(keys.linkProof)),
        verifier: OL.b64encode(await sha256(keys.auth)),
        has_passphrase: Boolean(passphrase),
        ttl: Number(ttlInput.value),
        pass_on_link: passOn && passOn.checked ? link : "",
      };
      say("Uploading the encrypted secret…");
      const response = await fetch(window.location.pathname, {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream" },
        body: new Blob([JSON.stringify(head) + "\n", sealed]),
        credentials: "omit",
        cache: "no-store",
      });
      let answer = {};
      try { answer = await response.json(); } catch (e) { answer = {}; }
      if (!response.ok) {
        say(answer.message || "Something went wrong. Please try again.", "error");
        if (answer.error === "gone") form.hidden = true;
        return;
      }
      textInput.value = "";
      fileInput.value = "";
      passInput.value = "";
      form.hidden = true;
      if (intro) intro.hidden = true;
      document.querySelector("h1").textContent = "Your one-time link is ready";
      output.value = link;
      result.hidden = false;
      say(head.pass_on_link ? "Created. The link was also sent in Slack." : "Created.", "ok");
      output.focus();
      output.select();
    } catch (e) {
      say("Could not encrypt or upload the secret. Please try again.", "error");
    } finally {
      button.disabled = false;
    }
  });

  document.getElementById("copy").addEventListener("click", async () => {
    await OL.copyFrom(output);
    say("Copied.", "ok");
  });

  // The link holds the key: never leave it in a page the back/forward cache brings back.
  window.addEventListener("pagehide", () => {
    output.value = "";
    textInput.value = "";
    if (passInput) passInput.value = "";
    fileInput.value = "";
    result.hidden = true;
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) window.location.reload();
  });
})();
