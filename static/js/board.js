// Waiting-room board: htmx polls the panel every second. This script sends the last ETag so an unchanged board
// costs a 304 with no body, keeps the panel on 304, shows the hospital's clock, and on each new call or call again
// flashes "now calling", plays a chime (Web Audio) and speaks the token in English and Urdu (the browser's
// speechSynthesis with the voices installed on the TV: no internet needed).
// ?kiosk=1 keeps the sound on across reloads (stored in localStorage; ?kiosk=0 forgets it). A browser still needs
// one click before it plays sound unless started with --autoplay-policy=no-user-gesture-required (kiosk mode).
(function () {
  "use strict";
  const KIOSK = "tokenline.board.kiosk";
  let etag = null;
  let lastCall = null;
  let audio = null;
  let soundOn = false;

  function panel() { return document.querySelector("[data-last-call]"); }

  function currentCall() {
    const p = panel();
    return p ? p.dataset.lastCall : "";
  }

  function chime() {
    document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);  // for tests and debugging
    if (!audio) return;
    const now = audio.currentTime;
    [880, 660].forEach(function (freq, i) {
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.35);
      gain.gain.exponentialRampToValueAtTime(0.4, now + i * 0.35 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.35 + 0.6);
      osc.connect(gain).connect(audio.destination);
      osc.start(now + i * 0.35);
      osc.stop(now + i * 0.35 + 0.65);
    });
  }

  // "GEN-005" is read "GEN 5"; "Room 2" is "کمرہ 2" in Urdu.
  function spokenToken(token) { return token.replace(/-0*(\d)/, " $1"); }
  function urduDesk(desk) { return desk.replace(/^Room\b/i, "کمرہ").replace(/^Counter\b/i, "کاؤنٹر"); }

  function voiceFor(lang) {
    const voices = window.speechSynthesis.getVoices();
    return voices.find(function (v) { return v.lang.toLowerCase().startsWith(lang); }) || null;
  }

  function speak(token, desk) {
    const en = "Token " + spokenToken(token) + ", " + desk;
    const ur = "ٹوکن " + spokenToken(token) + "، " + urduDesk(desk);
    document.body.dataset.announcement = en + " | " + ur;  // for tests and debugging
    if (!soundOn || !window.speechSynthesis) return;
    [[en, "en"], [ur, "ur"]].forEach(function (pair) {
      const utterance = new SpeechSynthesisUtterance(pair[0]);
      utterance.lang = pair[1] === "ur" ? "ur-PK" : "en-GB";
      const voice = voiceFor(pair[1]);
      if (voice) utterance.voice = voice;
      if (voice || pair[1] === "en") window.speechSynthesis.speak(utterance);
    });
  }

  function announce() {
    const p = panel();
    const now = document.querySelector(".now");
    if (now) {
      now.classList.remove("flash");
      void now.offsetWidth;  // restart the animation
      now.classList.add("flash");
    }
    document.body.dataset.flashes = String(Number(document.body.dataset.flashes || 0) + 1);
    chime();
    if (p && p.dataset.announceToken) speak(p.dataset.announceToken, p.dataset.announceDesk);
  }

  function enableSound() {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    audio.resume();
    soundOn = true;
    document.getElementById("sound").hidden = audio.state === "running";
  }

  function startClock() {
    // The hospital's time: the server's clock and UTC offset, not the TV's (which may be set to any zone).
    const skew = Number(document.body.dataset.serverMs) - Date.now();
    const offset = Number(document.body.dataset.utcOffset) * 60000;
    const clock = document.getElementById("clock");
    const tick = function () {
      const t = new Date(Date.now() + skew + offset);
      clock.textContent = String(t.getUTCHours()).padStart(2, "0") + ":" + String(t.getUTCMinutes()).padStart(2, "0");
    };
    tick();
    setInterval(tick, 5000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    lastCall = currentCall();
    const params = new URLSearchParams(window.location.search);
    if (params.get("kiosk") === "1") window.localStorage.setItem(KIOSK, "1");
    if (params.get("kiosk") === "0") window.localStorage.removeItem(KIOSK);
    const sound = document.getElementById("sound");
    sound.addEventListener("click", function () { enableSound(); chime(); });
    if (window.localStorage.getItem(KIOSK) === "1") {
      document.body.dataset.kiosk = "1";
      enableSound();
      // Blocked until a gesture without the kiosk flag: any key or click then turns it on.
      document.addEventListener("click", enableSound, {once: true});
      document.addEventListener("keydown", enableSound, {once: true});
    }
    startClock();
  });

  document.addEventListener("htmx:configRequest", function (event) {
    if (etag) event.detail.headers["If-None-Match"] = etag;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    const xhr = event.detail.xhr;
    if (xhr.status === 304) {
      event.detail.shouldSwap = false;
    } else if (xhr.status === 200) {
      etag = xhr.getResponseHeader("ETag");
    }
  });
  document.addEventListener("htmx:afterSwap", function () {
    const call = currentCall();
    if (call && call !== lastCall) announce();
    lastCall = call;
  });
})();
