// Waiting-room board: htmx polls the panel every second. This script sends the last ETag so an unchanged board
// costs a 304 with no body, keeps the panel on 304, shows a clock and plays a chime (Web Audio) on a new call.
(function () {
  "use strict";
  let etag = null;
  let lastCall = null;
  let audio = null;

  function currentCall() {
    const panel = document.querySelector("[data-last-call]");
    return panel ? panel.dataset.lastCall : "";
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

  document.addEventListener("DOMContentLoaded", function () {
    lastCall = currentCall();
    const sound = document.getElementById("sound");
    sound.addEventListener("click", function () {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      audio.resume();
      sound.hidden = true;
      chime();
    });
    const clock = document.getElementById("clock");
    const tick = function () { clock.textContent = new Date().toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}); };
    tick();
    setInterval(tick, 10000);
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
    if (call && call !== lastCall) chime();
    lastCall = call;
  });
})();
