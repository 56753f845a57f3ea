// Passkeys on /login and /account: the browser's WebAuthn API speaks ArrayBuffers, the server
// base64url JSON (webauthn-rs), so this converts both ways. Nothing else of the pages needs it.
(() => {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  const bytes = (text) => {
    const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(plain, (c) => c.charCodeAt(0)).buffer;
  };
  const error = document.getElementById("passkey-error");
  const fail = (message) => {
    if (error) { error.textContent = message; error.hidden = false; }
  };
  const post = async (url, body) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body || {}),
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(answer.error || `the server answered ${response.status}`);
    return answer;
  };
  const run = (button, task) => {
    button.hidden = false;
    button.addEventListener("click", async () => {
      button.disabled = true;
      if (error) error.hidden = true;
      try {
        const answer = await task();
        window.location.assign(answer.to || "/");
      } catch (e) {
        fail(e.name === "NotAllowedError" ? "The passkey was not used." : `No passkey: ${e.message}`);
      } finally {
        button.disabled = false;
      }
    });
  };

  const login = document.getElementById("passkey-login");
  if (login) run(login, async () => {
    const { ceremony, options } = await post("/login/passkey/start");
    const key = options.publicKey;
    key.challenge = bytes(key.challenge);
    (key.allowCredentials || []).forEach((c) => { c.id = bytes(c.id); });
    const cred = await navigator.credentials.get({ publicKey: key });
    const r = cred.response;
    return post("/login/passkey/finish", {
      ceremony,
      credential: {
        id: cred.id,
        rawId: b64(cred.rawId),
        type: cred.type,
        extensions: {},
        response: {
          authenticatorData: b64(r.authenticatorData),
          clientDataJSON: b64(r.clientDataJSON),
          signature: b64(r.signature),
          userHandle: r.userHandle ? b64(r.userHandle) : null,
        },
      },
    });
  });

  const add = document.getElementById("passkey-add");
  if (add) run(add, async () => {
    const { ceremony, options } = await post("/account/passkey/start");
    const key = options.publicKey;
    key.challenge = bytes(key.challenge);
    key.user.id = bytes(key.user.id);
    (key.excludeCredentials || []).forEach((c) => { c.id = bytes(c.id); });
    // Discoverable, so signing in needs no name: the passkey says whose it is.
    key.authenticatorSelection = Object.assign({}, key.authenticatorSelection, {
      residentKey: "required",
      requireResidentKey: true,
    });
    const cred = await navigator.credentials.create({ publicKey: key });
    const r = cred.response;
    return post("/account/passkey/finish", {
      ceremony,
      credential: {
        id: cred.id,
        rawId: b64(cred.rawId),
        type: cred.type,
        extensions: {},
        response: {
          attestationObject: b64(r.attestationObject),
          clientDataJSON: b64(r.clientDataJSON),
          transports: r.getTransports ? r.getTransports() : [],
        },
      },
    });
  });
})();
