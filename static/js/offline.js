/* The offline registration page (templates/terminals/offline.html, terminals/views.py).
 *
 * The command-line client's protocol (terminals/client.py), in the browser:
 * - device identity: "browser-" and 32 random hex digits, kept in IndexedDB, sent as X-Tokenline-Device with the
 *   epoch the server issued at the last contact (X-Tokenline-Epoch: a copied browser profile presents an old one
 *   and the server puts that identity's leases on hold), the clock and each lease's next number;
 * - leases: taken while online, with a request id saved first (a lost reply returns the same block when sent
 *   again), topped up once the numbers left fall to `top_up_at`;
 * - numbering: the next number of the oldest usable lease, taken in one IndexedDB transaction with the outbox
 *   record, so two tabs of one browser never print the same number; no lease left means no number;
 * - sync: pending records in batches to the terminal's sync endpoint, each with its client_uuid and registered_at;
 *   refused ones keep the server's reasons and a form to fix and resend; REPRINT notices for renumbered ones.
 * Network contacts of one terminal run one at a time across tabs (Web Locks), so the epoch is never presented
 * twice at once.
 */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("offline-config").textContent);
  var T = JSON.parse(document.getElementById("offline-texts").textContent);
  var CODE = config.terminal;
  var BATCH = 50;
  var FIELDS = Object.keys(config.rules);
  var db, device, unreachable = false, lastListing = 0;

  function fmt(text, values) {
    return text.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  function uuid4() {
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function written(number) {  // patients.mrn.written_mrn
    if (config.scheme !== "grouped") return String(number);
    var d = String(number).padStart(8, "0");
    return d.slice(0, 3) + "-" + d.slice(3, 5) + "-" + d.slice(5);
  }

  // --- IndexedDB ------------------------------------------------------------------------------------------------

  function req(request) {
    return new Promise(function (resolve, reject) {
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function openDb() {
    var opening = indexedDB.open("tokenline-offline", 1);
    opening.onupgradeneeded = function () {
      var d = opening.result;
      d.createObjectStore("meta");
      d.createObjectStore("leases", {keyPath: ["terminal", "start"]}).createIndex("terminal", "terminal");
      var outbox = d.createObjectStore("outbox", {keyPath: "client_uuid"});
      outbox.createIndex("mrn", ["terminal", "mrn"], {unique: true});  // a printed number is stored once
      outbox.createIndex("terminal", "terminal");
    };
    return req(opening);
  }

  /* Run `body(tx)` (async, awaiting IndexedDB requests only) in one transaction; resolves with its value once the
   * transaction committed, rejects (nothing written) if it threw. */
  function run(stores, mode, body) {
    return new Promise(function (resolve, reject) {
      var tx = db.transaction(stores, mode), result;
      tx.oncomplete = function () { resolve(result); };
      tx.onabort = function () { reject(tx.error || new Error("IndexedDB transaction aborted")); };
      body(tx).then(function (value) { result = value; }, function (error) {
        try { tx.abort(); } catch (ignored) { /* already finished */ }
        reject(error);
      });
    });
  }

  function getMeta(key) {
    return run(["meta"], "readonly", function (tx) { return req(tx.objectStore("meta").get(key)); });
  }

  function setMeta(key, value) {
    return run(["meta"], "readwrite", async function (tx) { tx.objectStore("meta").put(value, key); });
  }

  function leases() {
    return run(["leases"], "readonly", function (tx) {
      return req(tx.objectStore("leases").index("terminal").getAll(CODE));
    });
  }

  function outbox() {
    return run(["outbox"], "readonly", function (tx) {
      return req(tx.objectStore("outbox").index("terminal").getAll(CODE));
    }).then(function (rows) { return rows.sort(function (a, b) { return a.number - b.number; }); });
  }

  function usable(lease) { return lease.device === device && !lease.stopped && lease.next <= lease.end; }

  function left(all) {
    return all.filter(usable).reduce(function (sum, lease) { return sum + lease.end - lease.next + 1; }, 0);
  }

  function NoNumber(message) { this.message = message; }

  /* Take the next leased number and store the registration with it, in one transaction. */
  function takeNumber(payload) {
    return run(["leases", "outbox"], "readwrite", async function (tx) {
      var store = tx.objectStore("leases");
      var all = await req(store.index("terminal").getAll(CODE));
      var open = all.filter(usable).sort(function (a, b) { return a.start - b.start; });
      if (!open.length) {
        throw new NoNumber(all.some(function (l) { return l.stopped && l.next <= l.end; }) ? T.lease_stopped
                                                                                           : T.no_number);
      }
      var lease = open[0], number = lease.next;
      lease.next += 1;
      store.put(lease);
      var record = {client_uuid: uuid4(), terminal: CODE, device: device, number: number, mrn: written(number),
                    payload: payload, registered_at: new Date().toISOString(), status: "pending", errors: null,
                    server_mrn: "", reprint: false, printed: 0};
      tx.objectStore("outbox").add(record);
      return record;
    });
  }

  // --- the server -----------------------------------------------------------------------------------------------

  function Refused(status, body) { this.status = status; this.body = body; }

  function csrf() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function seq(epoch) {
    var head = (epoch || "").split(".")[0];
    return /^\d+$/.test(head) ? parseInt(head, 10) : -1;
  }

  /* One request of this device, one at a time across tabs; returns the decoded 2xx answer. Throws Refused (4xx,
   * 5xx) or the fetch's TypeError (no network). */
  function call(method, url, body) {
    return navigator.locks.request("tokenline-net-" + CODE, async function () {
      var epoch = (await getMeta("epoch:" + CODE)) || "";
      var nexts = (await leases()).filter(function (l) { return l.device === device && l.next <= l.end + 1; })
        .sort(function (a, b) { return b.start - a.start; }).slice(0, 50)
        .map(function (l) { return l.start + ":" + l.next; }).join(",");
      var response;
      try {
        response = await fetch(url, {method: method, credentials: "same-origin", body: body && JSON.stringify(body),
          headers: {"Content-Type": "application/json", "X-CSRFToken": csrf(), "X-Tokenline-Device": device,
                    "X-Tokenline-Epoch": epoch, "X-Tokenline-Clock": new Date().toISOString(),
                    "X-Tokenline-Next": nexts}});
      } catch (error) {
        unreachable = true;
        throw error;
      }
      unreachable = false;
      var issued = response.headers.get("X-Tokenline-Epoch");
      if (issued && seq(issued) > seq(epoch)) await setMeta("epoch:" + CODE, issued);
      var answer = await response.json().catch(function () { return {}; });
      if (!response.ok) throw new Refused(response.status, answer);
      return answer;
    });
  }

  /* Stop every local lease the server put on hold, or whose next number it already holds (a restored copy). */
  function applyMarks(marks) {
    return run(["leases"], "readwrite", async function (tx) {
      var store = tx.objectStore("leases");
      for (var i = 0; i < marks.length; i++) {
        var lease = await req(store.get([CODE, marks[i].start]));
        if (!lease || lease.device !== device || lease.stopped) continue;
        if (marks[i].on_hold || (marks[i].high_water !== null && lease.next <= marks[i].high_water)) {
          lease.stopped = marks[i].on_hold ? "on hold" : "numbers up to " + marks[i].high_water + " already stored";
          store.put(lease);
        }
      }
    });
  }

  /* Lease a block (the saved request first, if its answer was lost). */
  async function lease(count) {
    var key = "lease_request:" + CODE;
    var pending = await getMeta(key);
    if (!pending) {
      pending = {count: count, request_id: uuid4()};
      await setMeta(key, pending);
    }
    var block = await call("POST", config.api.leases, pending);
    await run(["leases", "meta"], "readwrite", async function (tx) {
      var store = tx.objectStore("leases");
      if (!(await req(store.get([CODE, block.start])))) {
        store.put({terminal: CODE, start: block.start, end: block.end, next: block.start, device: device,
                   stopped: ""});
      }
      tx.objectStore("meta").delete(key);
    });
    await applyMarks(block.leases || []);
  }

  /* While online: a new lease once the numbers left fall to the warning level (one tab at a time). */
  function topUp() {
    return navigator.locks.request("tokenline-lease-" + CODE, {ifAvailable: true}, async function (lock) {
      if (lock && left(await leases()) <= config.top_up_at) await lease(config.lease_size);
    });
  }

  function flagRenumbered(renumbered) {
    return run(["outbox"], "readwrite", async function (tx) {
      var store = tx.objectStore("outbox");
      for (var i = 0; i < renumbered.length; i++) {
        var record = await req(store.get(renumbered[i].client_uuid));
        if (record && record.status === "synced" && record.server_mrn !== renumbered[i].mrn) {
          record.server_mrn = renumbered[i].mrn;
          record.reprint = true;
          store.put(record);
        }
      }
    });
  }

  function record(batch, results) {
    return run(["outbox"], "readwrite", async function (tx) {
      var store = tx.objectStore("outbox");
      for (var i = 0; i < batch.length; i++) {
        var item = await req(store.get(batch[i].client_uuid)), result = results[i];
        if (result.result === "error") {
          if (result.status >= 500) continue;  // a server fault: sent again next time
          item.status = "attention";
          item.errors = result.errors;
        } else {
          item.status = "synced";
          item.errors = null;
          item.server_mrn = result.patient.mrn;
          item.reprint = item.server_mrn !== item.mrn;  // ops gave it a new number: reprint the slip
        }
        store.put(item);
      }
    });
  }

  /* Send this device's pending records (and those held in incidents, whose answer may now be a new MRN). */
  function sync() {
    return navigator.locks.request("tokenline-sync-" + CODE, {ifAvailable: true}, async function (lock) {
      if (!lock) return;  // another tab is syncing
      var items = (await outbox()).filter(function (r) {
        return r.device === device && (r.status === "pending" ||
          (r.status === "attention" && r.errors && r.errors.incident != null));
      });
      if (!items.length) {
        // Nothing to send: ask for the leases' marks and renumberings, at most once a minute.
        if (Date.now() - lastListing < 60000) return;
        lastListing = Date.now();
        var listing = await call("GET", config.api.leases);
        await applyMarks(listing.leases);
        await flagRenumbered(listing.renumbered || []);
      }
      for (var sent = 0; sent < items.length; sent += BATCH) {
        var batch = items.slice(sent, sent + BATCH);
        var answer = await call("POST", config.api.sync, {registrations: batch.map(function (r) {
          return Object.assign({}, r.payload, {mrn: r.mrn, client_uuid: r.client_uuid, registered_at: r.registered_at});
        })});
        await record(batch, answer.results);
        await applyMarks(answer.leases || []);
        await flagRenumbered(answer.renumbered || []);
      }
      await setMeta("last_sync:" + CODE, new Date().toISOString());
    });
  }

  // --- the page -------------------------------------------------------------------------------------------------

  var form = document.getElementById("offline-form");
  var problem = document.querySelector("[data-testid=offline-problem]");

  function show(testid, text, state) {
    var node = document.querySelector("[data-testid=" + testid + "]");
    node.textContent = text;
    if (state !== undefined) node.dataset.state = state;
  }

  function say(text) {
    problem.textContent = text || "";
    problem.hidden = !text;
  }

  function fieldsHtml(prefix, values) {
    var box = document.createDocumentFragment();
    FIELDS.forEach(function (name) {
      var rule = config.rules[name], wrap = document.createElement("div"), input;
      wrap.className = "field";
      var label = document.createElement("label");
      label.textContent = rule.label;
      label.htmlFor = prefix + name;
      if (rule.choices) {
        input = document.createElement("select");
        [["", "—"]].concat(rule.choices).forEach(function (choice) {
          var option = document.createElement("option");
          option.value = choice[0];
          option.textContent = choice[1];
          input.appendChild(option);
        });
      } else {
        input = document.createElement("input");
        input.type = name === "dob" ? "date" : "text";
        if (rule.max_length) input.maxLength = rule.max_length;
      }
      input.id = prefix + name;
      input.name = name;
      input.value = (values && values[name]) || "";
      var error = document.createElement("p");
      error.className = "errorlist";
      error.dataset.errorFor = name;
      wrap.append(label, input, error);
      box.appendChild(wrap);
    });
    return box;
  }

  /* The form's values checked with the server's rules (config.rules); returns {payload} or {errors}. */
  function check(container) {
    var payload = {}, errors = {};
    var today = new Date().toISOString().slice(0, 10);
    FIELDS.forEach(function (name) {
      var rule = config.rules[name], value = container.querySelector("[name=" + name + "]").value.trim();
      if (!value) {
        if (rule.required) errors[name] = T.required;
        return;
      }
      if (rule.max_length && value.length > rule.max_length) errors[name] = fmt(T.too_long, {n: rule.max_length});
      else if (rule.pattern && !new RegExp(rule.pattern).test(value)) errors[name] = rule.message;
      else if (rule.choices && !rule.choices.some(function (c) { return c[0] === value; })) errors[name] = T.bad_choice;
      else if (rule.min && (value < rule.min || value > today)) errors[name] = fmt(T.bad_date, {min: rule.min});
      payload[name] = value;
    });
    container.querySelectorAll("[data-error-for]").forEach(function (node) {
      node.textContent = errors[node.dataset.errorFor] || "";
      node.parentNode.classList.toggle("has-error", Boolean(errors[node.dataset.errorFor]));
    });
    return Object.keys(errors).length ? {errors: errors} : {payload: payload};
  }

  function printSlip(item, mrn) {
    var slip = document.getElementById("offline-slip");
    var p = item.payload;
    slip.querySelector("[data-slip=mrn]").textContent = mrn;
    slip.querySelector("[data-slip=full_name]").textContent = p.full_name;
    slip.querySelector("[data-slip=father_line]").textContent = p.father_name || "";
    slip.querySelector("[data-slip=sex]").textContent = [p.sex, p.dob].filter(Boolean).join(" · ");
    slip.querySelector("[data-slip=registered]").textContent = item.registered_at.slice(0, 10);
    window.print();
    return run(["outbox"], "readwrite", async function (tx) {
      var store = tx.objectStore("outbox"), stored = await req(store.get(item.client_uuid));
      stored.printed += 1;
      if (mrn !== item.mrn) stored.reprint = false;
      store.put(stored);
    });
  }

  function reasons(errors) {
    return Object.keys(errors).filter(function (k) { return ["field", "incident", "reason"].indexOf(k) < 0; })
      .map(function (k) {
        var label = k === "detail" ? (errors.field || "") : k, text = [].concat(errors[k]).join(" ");
        return label ? label + ": " + text : text;
      }).join("; ");
  }

  /* A refused record's entry: the server's reasons and a form to fix and resend (none for one held in an
   * incident). `version` is what the entry shows (reasons and payload): refresh() keeps an entry of the same
   * version as it is, so what the clerk has typed into its form survives the page's refreshes. */
  function refusedEntry(item, version) {
    var li = document.createElement("li");
    li.dataset.mrn = item.mrn;
    li.dataset.uuid = item.client_uuid;
    li.dataset.version = version;
    var text = document.createElement("p");
    text.textContent = item.mrn + " " + item.payload.full_name + ": " + reasons(item.errors || {});
    li.appendChild(text);
    if (item.errors && item.errors.incident != null) {
      var held = document.createElement("p");
      held.className = "hint";
      held.textContent = T.held;
      li.appendChild(held);
      return li;
    }
    var fix = document.createElement("form");
    fix.noValidate = true;
    fix.appendChild(fieldsHtml("fix-" + item.mrn + "-", item.payload));
    var button = document.createElement("button");
    button.type = "submit";
    button.textContent = T.fix;
    fix.appendChild(button);
    fix.addEventListener("submit", function (event) {
      event.preventDefault();
      var checked = check(fix);
      if (checked.errors) return;
      run(["outbox"], "readwrite", async function (tx) {
        var store = tx.objectStore("outbox"), stored = await req(store.get(item.client_uuid));
        if (!stored || stored.status !== "attention") return;  // already resent (a second click, another tab)
        stored.payload = checked.payload;  // never the MRN: it is printed
        stored.status = "pending";
        stored.errors = null;
        store.put(stored);
      }).then(refresh).then(tick);
    });
    li.appendChild(fix);
    return li;
  }

  function renderLists(rows) {
    var refused = rows.filter(function (r) { return r.status === "attention"; });
    var list = document.querySelector("[data-testid=refused-list]");
    var shown = {};
    list.querySelectorAll(":scope > li").forEach(function (li) { shown[li.dataset.uuid] = li; });
    list.replaceChildren.apply(list, refused.map(function (item) {
      var version = JSON.stringify([item.errors, item.payload]), li = shown[item.client_uuid];
      return li && li.dataset.version === version ? li : refusedEntry(item, version);
    }));
    document.getElementById("refused-list").hidden = !refused.length;
    var reprints = rows.filter(function (r) { return r.reprint; });
    var reprintList = document.querySelector("[data-testid=reprint-list]");
    reprintList.replaceChildren();
    reprints.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = "REPRINT: " + fmt(T.reprint, {printed: item.mrn, mrn: item.server_mrn}) + " ";
      var button = document.createElement("button");
      button.type = "button";
      button.className = "small";
      button.textContent = T.print_again;
      button.addEventListener("click", function () { printSlip(item, item.server_mrn).then(refresh); });
      li.appendChild(button);
      reprintList.appendChild(li);
    });
    document.getElementById("reprint-list").hidden = !reprints.length;
  }

  /* Show the outbox and leases as stored now. The refreshes run one after another, so an earlier one's reading
   * never replaces a later one's on the page. */
  var drawn = Promise.resolve();
  function refresh() {
    drawn = drawn.then(draw, draw);
    return drawn;
  }

  async function draw() {
    var all = await leases(), rows = await outbox(), last = await getMeta("last_sync:" + CODE);
    var state = !navigator.onLine ? "offline" : unreachable ? "unreachable" : "online";
    show("network", T[state], state);
    show("numbers-left", String(left(all)));
    show("waiting", String(rows.filter(function (r) { return r.status === "pending"; }).length));
    show("refused", String(rows.filter(function (r) { return r.status === "attention"; }).length));
    show("last-sync", last ? new Date(last).toLocaleString(document.documentElement.lang) : T.never);
    renderLists(rows);
  }

  var ticking = null;
  /* While online: top up the lease, then sync. Failures leave everything in the outbox for the next tick. */
  function tick() {
    if (!navigator.onLine) return refresh();
    if (!ticking) {
      ticking = topUp().then(sync).then(function () { say(""); }, function (error) {
        if (error instanceof Refused) say(fmt(T.login, {detail: (error.body && error.body.detail) || error.status}));
      }).then(function () { ticking = null; return refresh(); });
    }
    return ticking;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var checked = check(form);
    if (checked.errors) return;
    var item;
    try {
      item = await takeNumber(checked.payload);
    } catch (error) {
      if (!(error instanceof NoNumber)) {  // storage refused the record (full, or cleared under the page)
        say(String(error && error.message || error));
        return refresh();
      }
      if (navigator.onLine) {  // online: lease now and number from it
        await tick();
        try { item = await takeNumber(checked.payload); } catch (again) { error = again; }
      }
      if (!item) {
        say(error.message);
        return refresh();
      }
    }
    say("");
    var done = document.querySelector("[data-testid=last-mrn]");
    done.textContent = fmt(T.registered, {mrn: item.mrn});
    done.hidden = false;
    done.dataset.mrn = item.mrn;
    await printSlip(item, item.mrn);
    form.reset();
    await refresh();
    if (navigator.onLine) tick();
  });

  async function start() {
    document.getElementById("offline-fields").appendChild(fieldsHtml("offline_", null));
    db = await openDb();
    device = await run(["meta"], "readwrite", async function (tx) {
      var store = tx.objectStore("meta"), id = await req(store.get("device"));
      if (!id) {
        id = "browser-" + uuid4().replace(/-/g, "");
        store.put(id, "device");
      }
      return id;
    });
    document.body.dataset.device = device;
    if (navigator.storage && navigator.storage.persist) {
      var kept = await navigator.storage.persist();
      document.querySelector("[data-testid=storage-warning]").hidden = kept;
    }
    window.addEventListener("online", tick);
    window.addEventListener("offline", refresh);
    setInterval(tick, 5000);
    await refresh();
    await tick();
    if ("serviceWorker" in navigator) {
      await navigator.serviceWorker.register(config.service_worker, {scope: config.service_worker.replace(/[^/]*$/, "")});
      await navigator.serviceWorker.ready;
      if (!navigator.serviceWorker.controller) {
        await new Promise(function (resolve) {
          navigator.serviceWorker.addEventListener("controllerchange", resolve, {once: true});
        });
      }
      if (navigator.onLine) await fetch(config.page, {credentials: "same-origin"});  // kept by the worker
    }
    document.body.dataset.ready = "1";
  }

  start();
})();
