// Waiting-room board: htmx polls the panel every second (an unchanged board answers 304: static/js/poll.js). This
// script shows the hospital's clock, and on each new call or call again
// flashes "now calling", plays the chime (static/audio/chime.wav, a local file) and speaks the token in English and,
// when the TV has an Urdu voice, in Urdu (the browser's speechSynthesis with the voices installed: no internet
// needed). Without an Urdu voice the number is said twice in English; the Urdu line is on screen, large.
// A call is announced only when its time (data-announced-ms) is newer than every call announced before: a call that
// leaves the board (no-show, cancel, transfer) never makes an older one speak again.
// ?kiosk=1 keeps the sound on across reloads (stored in localStorage; ?kiosk=0 forgets it). A browser still needs
// one click before it plays sound unless started with --autoplay-policy=no-user-gesture-required (kiosk mode).
// window.tokenlineBoard.announcements lists what was announced ("Token GEN 5, Room 2"), for tests and debugging.
(function () {
  "use strict";
  const KIOSK = "tokenline.board.kiosk";
  let newestMs = 0;
  let soundOn = false;
  const chimeUrl = document.currentScript.dataset.chime;
  let chimeAudio = null;  // made on first use: a media element loading with the page would hold up its load event
  window.tokenlineBoard = {announcements: []};

  function panel() { return document.querySelector("[data-last-call]"); }

  function announcedMs() {
    const p = panel();
    return p ? Number(p.dataset.announcedMs || 0) : 0;
  }

  function chime() {
    document.body.dataset.chimes = String(Number(document.body.dataset.chimes || 0) + 1);  // for tests and debugging
    if (!soundOn) return;
    chimeAudio = chimeAudio || new Audio(chimeUrl);
    chimeAudio.currentTime = 0;
    chimeAudio.play().catch(function () { document.getElementById("sound").hidden = false; });
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
    window.tokenlineBoard.announcements.push(en);
    if (!soundOn || !window.speechSynthesis) return;
    const urdu = voiceFor("ur");
    // Without an Urdu voice the number is repeated in English rather than skipped in silence.
    const lines = urdu ? [[en, "en-GB", voiceFor("en")], [ur, "ur-PK", urdu]]
                       : [[en, "en-GB", voiceFor("en")], ["Token " + spokenToken(token), "en-GB", voiceFor("en")]];
    lines.forEach(function (line) {
      const utterance = new SpeechSynthesisUtterance(line[0]);
      utterance.lang = line[1];
      if (line[2]) utterance.voice = line[2];
      window.speechSynthesis.speak(utterance);
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
    soundOn = true;
    // A silent play tells whether the browser lets this page make sound yet (it needs a click without kiosk mode).
    chimeAudio = chimeAudio || new Audio(chimeUrl);
    chimeAudio.muted = true;
    chimeAudio.play().then(function () {
      chimeAudio.pause();
      chimeAudio.muted = false;
      document.getElementById("sound").hidden = true;
    }).catch(function () { chimeAudio.muted = false; });
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
    newestMs = announcedMs();
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

  document.addEventListener("htmx:afterSwap", function () {
    const ms = announcedMs();
    if (ms > newestMs) {
      newestMs = ms;
      announce();
    }
  });
})();
