"use strict";
// The upload page of a request from someone in Slack (docs/SECURITY.md, "Secrets asked of
// someone outside Slack"). This link's #fragment, which the browser never sends, holds the
// upload key `u` (its proof shows the right to upload) and the requester's public key `Q`:
// the answer is sealed here to `Q` with a fresh ephemeral key, so this link can seal an
// answer but never open one. Only nonce, E and ciphertext are uploaded. Uses reveal.js's
// derivations (window.OnceLink).
(function () {
  const subtle = window.crypto && window.crypto.subtle;
  const app = document.getElementById("app");
  if (!app || !app.dataset.requestId || !window.OnceLink) return;
  const OL = window.OnceLink;
  const id = app.dataset.requestId;
  const maxFile = Number(app.dataset.maxFileSize);
  const maxText = Number(app.dataset.maxText);
  const form = document.getElementById("answer-form");
  const textInput = document.getElementById("text");
  const fileInput = document.getElementById("file");
  const button = document.getElementById("send");
  const message = document.getElementById("message");
  const intro = document.getElementById("intro");

  function say(text, kind) {
    message.textContent = text;
    message.className = kind || "";
  }


  const fragment = window.location.hash.slice(1).split(".");
  const uploadKey = fragment.length === 2 ? OL.b64decode(fragment[0], 32) : null;
  const answerPublic = fragment.length === 2 ? OL.b64decode(fragment[1], 65) : null;
  if (!subtle) {
    say("This browser cannot encrypt here (it needs a secure https page).", "error");
    return;
  }
  if (!uploadKey || !answerPublic) {
    say("This link is incomplete: part of it is missing or changed. Copy the whole link, " +
        "including everything after the #, and open it again.", "error");
    return;
  }
  form.hidden = false;

  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file && file.size > maxFile) {
      say(OL.fileTooLarge(file.size, maxFile), "error");
    } else {
      say("");
    }
  });

  function spent(text, kind) {
    form.hidden = true;
    if (intro) intro.hidden = true;
    // The key has done its job (or cannot any more): out of the address bar and history.
    history.replaceState(null, "", window.location.pathname);
    say(text, kind);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    const text = textInput.value;
    const problem = OL.inputProblem(file, text, maxFile);
    if (problem) return say(problem, "error");
    button.disabled = true;
    say("Encrypting…");
    try {
      let plain;
      try {
        plain = await OL.inputPlaintext(file, text, maxText, "send");
      } catch (e) {
        return say(e.message, "error");
      }
      let sealed;
      try {
        sealed = await OL.sealAnswer(answerPublic, plain, id);
      } catch (e) {
        return say("This link is incomplete: part of it is missing or changed. Copy the " +
                   "whole link, including everything after the #, and open it again.", "error");
      }
      const nonce = sealed.nonce;
      plain.fill(0);
      plain = null;
      const head = { version: 1, kind: file ? "file" : "text", nonce: OL.b64encode(nonce) };
      // Shows the server this comes from the link's holder, not from someone with its id.
      const proof = OL.b64encode(await OL.hkdf(uploadKey, id, "upload-proof"));
      say("Sending the encrypted secret…");
      const response = await fetch(window.location.pathname, {
        method: "POST",
        headers: {
          "Content-Type": "application/octet-stream",
          "X-Oncelink-Upload-Proof": proof,
        },
        body: new Blob([JSON.stringify(head) + "\n", sealed.sealed]),
        credentials: "omit",
        cache: "no-store",
      });
      let answer = {};
      try { answer = await response.json(); } catch (e) { answer = {}; }
      if (!response.ok) {
        if (answer.error === "gone" || answer.error === "broken_link") {
          return spent(answer.message, "error");
        }
        if (response.status === 429) {
          // Past the failure limit the answer no longer says why (often a used link): the
          // key leaves the address bar and history all the same. This tab keeps it, so
          // trying again after the wait still works here.
          history.replaceState(null, "", window.location.pathname);
          return say(answer.message || "Too many failed uploads. Try again later.", "error");
        }
        return say(answer.message || "Something went wrong. Please try again.", "error");
      }
      textInput.value = "";
      fileInput.value = "";
      document.querySelector("h1").textContent = "Delivered";
      spent("Delivered. Only the person who asked can open it. This link is now used up.", "ok");
    } catch (e) {
      say("Could not encrypt or send the secret. Please try again.", "error");
    } finally {
      button.disabled = false;
    }
  });

  window.addEventListener("pagehide", () => {
    textInput.value = "";
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) window.location.reload();
  });
})();
