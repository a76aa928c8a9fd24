// kuota kiosk: the self-service sale, driven through the JSON API with the device's
// X-Kiosk-Key. A sale in flight lives in localStorage (its Idempotency-Key and body
// before the POST, its id after), so a kiosk that restarts finishes it: it resends the
// same POST if the answer was lost, resumes waiting, or prints the paid receipt (the
// server prints each receipt once).
(function () {
  "use strict";

  var KEY_STORE = "kuota.kiosk.key";
  var SALE_STORE = "kuota.kiosk.sale";
  var LONG_PRESS_MS = 3000;
  var RECORD_MAX_AGE_MS = 24 * 3600 * 1000; // older unfinished sales are forgotten
  var DEFAULT_TTL_MS = 15 * 60 * 1000;
  var REQUEST_TIMEOUT_MS = 20000;
  var HEARTBEAT_MS = 60000;
  // Screens that wait for something other than the customer: no idle reset there.
  var NOT_IDLE = { boot: true, setup: true, busy: true, wait: true, done: true };

  var config = JSON.parse(document.getElementById("kiosk-config").textContent);
  var root = document.getElementById("kiosk");
  var lang = config.defaultLocale;
  var kioskKey = localStorage.getItem(KEY_STORE) || "";
  var catalogue = []; // the public plans: not personal, kept from one customer to the next
  var customer = fresh();
  var timers = {}; // every timer of a customer's visit, all cleared by reset()
  var lastTouch = Date.now();
  var qrUrl = null;

  function fresh() {
    return { digits: "", card: null, plan: null, retry: null };
  }

  // -- small helpers ----------------------------------------------------------------------

  function slot(name) {
    return root.querySelector('[data-slot="' + name + '"]');
  }

  function section(name) {
    return root.querySelector('section[data-screen="' + name + '"]');
  }

  function t(key, values) {
    var text = (config.strings[lang] || {})[key] || config.strings.en[key] || key;
    return text.replace(/%\((\w+)\)[sd]/g, function (_, name) {
      return values && name in values ? String(values[name]) : "";
    });
  }

  function el(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setTimer(name, work, ms) {
    clearTimer(name);
    timers[name] = setTimeout(function () {
      delete timers[name];
      work();
    }, ms);
  }

  function clearTimer(name) {
    if (timers[name]) {
      clearTimeout(timers[name]);
      delete timers[name];
    }
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // Served over plain http the browser has no randomUUID; getRandomValues still works.
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); });
    return [hex.slice(0, 4), hex.slice(4, 6), hex.slice(6, 8), hex.slice(8, 10), hex.slice(10)]
      .map(function (part) { return part.join(""); }).join("-");
  }

  // -- how amounts, data, times and numbers read ------------------------------------------

  function rupiah(money) {
    var minor = Number(money.amount);
    var whole = Math.round(Math.abs(minor) / 100); // kiosk prices are whole rupiah
    var grouped = String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, lang === "id" ? "." : ",");
    var symbol = money.currency === "IDR" ? "Rp" : money.currency;
    return (minor < 0 ? "-" : "") + symbol + " " + grouped;
  }

  function dataAmount(bytes) {
    var units = [["GB", 1e9], ["MB", 1e6], ["KB", 1e3]];
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(bytes) >= units[i][1]) {
        var value = String(Math.round((bytes / units[i][1]) * 100) / 100);
        return (lang === "id" ? value.replace(".", ",") : value) + " " + units[i][0];
      }
    }
    return bytes + " B";
  }

  function validity(days) {
    return days === 1 ? t("valid_day") : t("valid_days", { num: days });
  }

  function localTime(iso) {
    // As the receipts write it, in the operator's time zone: day first, year first in zh.
    var parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    }).formatToParts(new Date(iso)).forEach(function (part) { parts[part.type] = part.value; });
    var clock = parts.hour + ":" + parts.minute;
    return lang === "zh"
      ? parts.year + "-" + parts.month + "-" + parts.day + " " + clock
      : parts.day + "-" + parts.month + "-" + parts.year + " " + clock;
  }

  function groupNumber(digits) {
    function groups(text, sizes) {
      var out = [];
      var at = 0;
      for (var i = 0; at < text.length; i++) {
        var size = sizes[Math.min(i, sizes.length - 1)];
        out.push(text.slice(at, at + size));
        at += size;
      }
      return out.join(" ");
    }
    if (digits.indexOf("+62") === 0) return ("+62 " + groups(digits.slice(3), [3, 4])).trim();
    if (digits.charAt(0) === "+") return digits;
    return groups(digits, [4]);
  }

  function plausible(digits) {
    return /^08\d{7,11}$/.test(digits) || /^\+628\d{7,11}$/.test(digits);
  }

  function planName(code) {
    var plan = planByCode(code);
    return plan ? dataAmount(plan.data_bytes) + " · " + validity(plan.validity_days) : code;
  }

  function planByCode(code) {
    for (var i = 0; i < catalogue.length; i++) if (catalogue[i].code === code) return catalogue[i];
    return null;
  }

  // -- screens and language ---------------------------------------------------------------

  function current() {
    return root.getAttribute("data-screen");
  }

  function show(name) {
    root.querySelectorAll("section[data-screen]").forEach(function (screen) {
      screen.hidden = screen.getAttribute("data-screen") !== name;
    });
    root.setAttribute("data-screen", name);
    lastTouch = Date.now();
  }

  function busy(key) {
    slot("busy-message").textContent = t(key);
    show("busy");
  }

  function applyLanguage(code) {
    lang = config.strings[code] ? code : config.defaultLocale;
    document.documentElement.lang = lang;
    document.title = t("page_title") + " · kuota";
    root.querySelectorAll("[data-t]").forEach(function (node) {
      node.textContent = t(node.getAttribute("data-t"));
    });
    root.querySelectorAll("[data-t-aria]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-t-aria")));
    });
    root.querySelectorAll("[data-lang]").forEach(function (button) {
      button.setAttribute("aria-pressed", String(button.getAttribute("data-lang") === lang));
    });
    renderCatalogue();
  }

  function renderCatalogue() {
    var items = catalogue.map(function (plan) {
      var item = el("li", { "class": "plan", "data-plan-card": plan.code });
      item.append(
        el("span", { "class": "plan-data" }, dataAmount(plan.data_bytes)),
        el("span", { "class": "plan-days" }, validity(plan.validity_days)),
        el("span", { "class": "price", "data-price": plan.code }, rupiah(plan.price))
      );
      return item;
    });
    slot("start-plans").replaceChildren.apply(slot("start-plans"), items);
  }

  function loadCatalogue() {
    return fetch("/api/v1/plans", { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : Promise.reject(response); })
      .then(function (plans) {
        catalogue = plans;
        renderCatalogue();
      })
      .catch(function () {
        setTimeout(loadCatalogue, 10000);
      });
  }

  /** Back to the start screen as a new customer finds it: no number, no name, no sale,
   *  no timer of the last visit, the device's own language. */
  function reset() {
    Object.keys(timers).forEach(clearTimer);
    clearRecord();
    customer = fresh();
    dropQr();
    root.querySelectorAll("[data-slot]").forEach(function (node) {
      if (node.tagName !== "IMG") node.replaceChildren();
    });
    ["data-sale-id", "data-payment-id", "data-kind", "data-reason", "data-printed"].forEach(function (name) {
      root.querySelectorAll("[" + name + "]").forEach(function (node) { node.removeAttribute(name); });
    });
    document.getElementById("kiosk-key").value = "";
    applyLanguage(config.defaultLocale);
    show("start");
    loadCatalogue();
  }

  function idleCheck() {
    var screen = current();
    if (NOT_IDLE[screen] || (screen === "start" && lang === config.defaultLocale)) return;
    if (Date.now() - lastTouch >= config.idleSeconds * 1000) reset();
  }

  // -- the API ----------------------------------------------------------------------------

  function KeyRejected() {}

  async function api(method, path, options) {
    options = options || {};
    var headers = { Accept: "application/json", "X-Kiosk-Key": options.key || kioskKey };
    var init = { method: method, headers: headers, cache: "no-store" };
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
    var abort = new AbortController();
    var timeout = setTimeout(function () { abort.abort(); }, REQUEST_TIMEOUT_MS);
    init.signal = abort.signal;
    var response, data;
    try {
      response = await fetch(path, init);
      var type = response.headers.get("Content-Type") || "";
      data = type.indexOf("json") >= 0 ? await response.json() : await response.blob();
    } finally {
      clearTimeout(timeout);
    }
    if (response.status === 401 && !options.key) {
      keyRejected();
      throw new KeyRejected();
    }
    return { status: response.status, data: data };
  }

  function beat() {
    return { printer_status: "ok", paper_status: "ok", app_version: config.appVersion };
  }

  function heartbeat() {
    if (!kioskKey) return;
    // A beat that fails is simply missed; the operator sees the kiosk offline after three.
    api("POST", "/api/v1/kiosk/heartbeat", { body: beat(), key: kioskKey }).catch(function () {});
  }

  function keyRejected() {
    Object.keys(timers).forEach(clearTimer);
    customer = fresh();
    dropQr();
    showSetup(t("setup_rejected"));
  }

  function showSetup(message) {
    applyLanguage(lang);
    slot("setup-error").textContent = message || "";
    show("setup");
    document.getElementById("kiosk-key").focus();
  }

  async function saveKey(candidate) {
    candidate = candidate.trim();
    if (!candidate) return;
    var answer;
    try {
      answer = await api("POST", "/api/v1/kiosk/heartbeat", { body: beat(), key: candidate });
    } catch (error) {
      slot("setup-error").textContent = t("offline");
      return;
    }
    if (answer.status !== 200) {
      slot("setup-error").textContent = t("setup_rejected");
      return;
    }
    kioskKey = candidate;
    localStorage.setItem(KEY_STORE, candidate);
    document.getElementById("kiosk-key").value = "";
    recover();
  }

  function problemText(problem) {
    var slug = String((problem && problem.type) || "").split("/").pop();
    if (slug === "gateway-unavailable" || slug === "gateway-busy") return t("problem_gateway");
    if (slug === "payment-method-unavailable") return t("problem_method");
    return t("problem_other");
  }

  function problem(message, retry) {
    customer.retry = retry || null;
    slot("problem-message").textContent = message;
    show("problem");
  }

  // -- the sale in flight, kept across restarts -------------------------------------------

  function readRecord() {
    var record = null;
    try {
      record = JSON.parse(localStorage.getItem(SALE_STORE) || "null");
    } catch (error) {
      record = null;
    }
    if (record && !(Date.now() - record.startedAt < RECORD_MAX_AGE_MS)) {
      clearRecord();
      return null;
    }
    return record;
  }

  function saveRecord(record) {
    localStorage.setItem(SALE_STORE, JSON.stringify(record));
  }

  function clearRecord() {
    localStorage.removeItem(SALE_STORE);
  }

  function following(record) {
    var stored = readRecord();
    return stored !== null && stored.key === record.key;
  }

  async function recover() {
    var record = readRecord();
    if (!record) {
      reset();
      return;
    }
    applyLanguage(record.lang || config.defaultLocale);
    if (!record.saleId) {
      submit(record, true); // the POST's answer was lost: the same key and body again
      return;
    }
    busy("resuming");
    var answer;
    try {
      answer = await api("GET", "/api/v1/renewals/" + encodeURIComponent(record.saleId));
    } catch (error) {
      if (error instanceof KeyRejected) return;
      setTimer("recover", recover, 5000);
      return;
    }
    if (answer.status === 200) settle(record, answer.data, true);
    else if (answer.status === 404) reset();
    else setTimer("recover", recover, 5000);
  }

  function startSale(method) {
    var record = {
      key: uuid(),
      body: { msisdn: customer.card.msisdn, plan_code: customer.plan.code, payment_method: method },
      lang: lang,
      startedAt: Date.now(),
    };
    saveRecord(record); // before the call: a restart resends this very request
    submit(record, false);
  }

  async function submit(record, resumed) {
    busy(resumed ? "resuming" : "starting");
    for (var attempt = 0; attempt < 4; attempt++) {
      if (attempt > 0) await sleep(2000 * attempt);
      var answer;
      try {
        answer = await api("POST", "/api/v1/renewals", {
          body: record.body,
          idempotencyKey: record.key,
        });
      } catch (error) {
        if (error instanceof KeyRejected) return;
        continue; // no answer: the sale may exist; the same key cannot make a second one
      }
      if (answer.status === 201) {
        accept(record, answer.data);
        settle(record, answer.data, resumed);
        return;
      }
      if (answer.status >= 500 || answer.status === 429) continue;
      clearRecord(); // refused: nothing was sold
      problem(problemText(answer.data), null);
      return;
    }
    problem(t("offline"), function () { submit(record, resumed); });
  }

  function accept(record, sale) {
    record.saleId = sale.id;
    record.paymentId = sale.payment.id;
    if (!record.deadline) {
      // The payment's lifetime on the server's clock, counted on the kiosk's own clock
      // from when the sale began (the two clocks need not agree).
      var ttl = Date.parse(sale.payment.expires_at) - Date.parse(sale.created_at);
      record.deadline = record.startedAt + (ttl > 0 ? ttl : DEFAULT_TTL_MS);
    }
    saveRecord(record);
  }

  function settle(record, sale, resumed) {
    if (sale.status === "fulfilled") {
      finish(record, sale);
    } else if (sale.status === "failed") {
      if (resumed) {
        reset(); // a sale that failed before the restart: its customer has gone
        return;
      }
      clearRecord();
      failed(sale.payment && sale.payment.status === "expired" ? "expired" : "declined");
    } else if (Date.now() >= record.deadline) {
      expire(record);
    } else {
      waitFor(record, sale);
    }
  }

  function waitKind(payment) {
    if (payment.next_action && payment.next_action.kind === "qr") return "qr";
    if (payment.method === "kiosk_card" && payment.status === "pending") return "card";
    return "confirm"; // the gateway's answer is not in yet: kuota asks it by itself
  }

  function waitFor(record, sale) {
    var screen = section("wait");
    var kind = waitKind(sale.payment);
    if (current() !== "wait" || screen.getAttribute("data-sale-id") !== sale.id ||
        screen.getAttribute("data-kind") !== kind) {
      screen.setAttribute("data-sale-id", sale.id);
      screen.setAttribute("data-payment-id", sale.payment.id);
      screen.setAttribute("data-kind", kind);
      slot("wait-title").textContent = t(kind === "card" ? "card_title" : "wait_title");
      slot("wait-amount").textContent = rupiah(sale.total);
      slot("wait-hint").textContent = t(
        kind === "qr" ? "qr_hint" : kind === "card" ? "card_hint" : "confirming"
      );
      root.querySelector('[data-part="terminal"]').hidden = kind !== "card";
      dropQr();
      if (kind === "qr") loadQr(sale.payment.id, rupiah(sale.total));
      show("wait");
      countdown(record);
    }
    setTimer("poll", function () { poll(record); }, config.pollSeconds * 1000);
  }

  function dropQr() {
    var image = slot("qr");
    image.hidden = true;
    image.removeAttribute("src");
    image.alt = "";
    if (qrUrl) URL.revokeObjectURL(qrUrl);
    qrUrl = null;
  }

  async function loadQr(paymentId, total) {
    var answer;
    try {
      answer = await api("GET", "/api/v1/kiosk/payments/" + encodeURIComponent(paymentId) + "/qr.png");
    } catch (error) {
      if (error instanceof KeyRejected) return;
      setTimer("qr", function () { loadQr(paymentId, total); }, 3000);
      return;
    }
    if (current() !== "wait" || section("wait").getAttribute("data-payment-id") !== paymentId) {
      return; // the customer has gone meanwhile
    }
    if (answer.status !== 200 || !(answer.data instanceof Blob)) return; // paid already: poll says
    dropQr();
    qrUrl = URL.createObjectURL(answer.data);
    var image = slot("qr");
    image.alt = t("qr_alt", { total: total });
    image.src = qrUrl;
    image.hidden = false;
  }

  function countdown(record) {
    var left = record.deadline - Date.now();
    if (left <= 0) {
      expire(record);
      return;
    }
    var seconds = Math.ceil(left / 1000);
    var clock = Math.floor(seconds / 60) + ":" + String(seconds % 60).padStart(2, "0");
    slot("time-left").textContent = t("time_left", { time: clock });
    setTimer("countdown", function () { countdown(record); }, 1000);
  }

  async function ask(record) {
    try {
      return await api("GET", "/api/v1/renewals/" + encodeURIComponent(record.saleId));
    } catch (error) {
      if (error instanceof KeyRejected) throw error;
      return null;
    }
  }

  async function poll(record) {
    var answer;
    try {
      answer = await ask(record);
    } catch (error) {
      return;
    }
    if (!following(record) || current() !== "wait") return; // cancelled meanwhile
    if (answer && answer.status === 200) settle(record, answer.data, false);
    else if (answer && answer.status === 404) reset();
    else setTimer("poll", function () { poll(record); }, config.pollSeconds * 2000);
  }

  async function expire(record) {
    clearTimer("poll");
    clearTimer("countdown");
    var answer;
    try {
      // Close the order at the gateway too: the kiosk's countdown started before the
      // gateway's, and a QR paid after "expired" would sell with no receipt.
      answer = await cancelSale(record);
    } catch (error) {
      answer = null; // unreachable: the order lapses at the gateway by itself
    }
    if (!following(record)) return;
    if (answer && answer.status === 200 && answer.data.status === "fulfilled") {
      finish(record, answer.data); // a payment that arrived in the last second still counts
      return;
    }
    clearRecord();
    failed("expired");
  }

  function cancelSale(record) {
    return api("POST", "/api/v1/kiosk/renewals/" + encodeURIComponent(record.saleId) + "/cancel");
  }

  async function abandon() {
    var record = readRecord();
    Object.keys(timers).forEach(clearTimer);
    dropQr();
    if (record && record.saleId) {
      busy("loading");
      var answer = null;
      try {
        // Close the order at the gateway, so it cannot be paid after the customer left.
        answer = await cancelSale(record);
      } catch (error) {
        // Unreachable: the next customer must not inherit this sale; the open order
        // lapses at the gateway by itself.
        clearRecord();
      }
      if (answer && answer.status === 200 && answer.data.status === "fulfilled") {
        finish(record, answer.data); // paid just before the tap: it is theirs
        return;
      }
    }
    reset();
  }

  async function finish(record, sale) {
    clearTimer("poll");
    clearTimer("countdown");
    dropQr();
    busy("printing");
    var printed = false;
    var path = "/api/v1/kiosk/receipts/" + encodeURIComponent(sale.receipt_no) + "/print?lang=" + lang;
    for (var attempt = 0; attempt < 5; attempt++) {
      if (attempt > 0) await sleep(2000);
      var answer;
      try {
        answer = await api("POST", path);
      } catch (error) {
        if (error instanceof KeyRejected) return;
        continue;
      }
      if (answer.status === 200) {
        printed = true; // now, or before a restart: the server prints a receipt once
        break;
      }
      if (answer.status < 500) break;
    }
    clearRecord();
    done(sale, printed);
  }

  function done(sale, printed) {
    var facts = slot("done-facts");
    facts.replaceChildren(
      el("dt", {}, t("receipt_no")),
      el("dd", { "class": "receipt-no", "data-receipt-no": sale.receipt_no }, sale.receipt_no),
      el("dt", {}, t("plan")),
      el("dd", {}, planName(sale.plan_code))
    );
    if (sale.package) {
      facts.append(el("dt", {}, t("valid_until")), el("dd", {}, localTime(sale.package.expires_at)));
    }
    slot("done-receipt").textContent = t(printed ? "done_receipt" : "done_no_receipt");
    section("done").setAttribute("data-printed", String(printed));
    show("done");
    var until = Date.now() + config.doneSeconds * 1000;
    (function tick() {
      var left = Math.ceil((until - Date.now()) / 1000);
      if (left <= 0) {
        reset();
        return;
      }
      slot("done-soon").textContent = t("done_soon", { num: left });
      setTimer("done", tick, 1000);
    })();
  }

  function failed(reason) {
    Object.keys(timers).forEach(clearTimer);
    dropQr();
    section("failed").setAttribute("data-reason", reason);
    slot("failed-title").textContent = t(reason === "expired" ? "expired_title" : "failed_title");
    show("failed");
  }

  function tryAgain() {
    if (customer.card && customer.plan) {
      renderPay();
      show("pay");
      return;
    }
    reset();
    begin();
  }

  // -- the customer's steps ---------------------------------------------------------------

  function begin() {
    customer = fresh();
    renderNumber();
    show("number");
  }

  function press(key) {
    var digits = customer.digits;
    if (key === "back") digits = digits.slice(0, -1);
    else if (key === "+") digits = digits === "" ? "+" : digits;
    else if (/^\d$/.test(key) && digits.length < 16) digits += key;
    customer.digits = digits;
    slot("number-error").textContent = "";
    renderNumber();
  }

  function renderNumber() {
    slot("number-display").textContent = groupNumber(customer.digits);
  }

  async function lookUp() {
    var digits = customer.digits;
    if (!plausible(digits)) {
      slot("number-error").textContent = t("number_invalid");
      return;
    }
    busy("looking_up");
    var answer;
    try {
      if (!catalogue.length) await loadCatalogue();
      answer = await api("GET", "/api/v1/cards/" + encodeURIComponent(digits));
    } catch (error) {
      if (error instanceof KeyRejected) return;
      answer = null;
    }
    if (current() !== "busy" || customer.digits !== digits) return;
    if (answer && answer.status === 200) {
      customer.card = answer.data;
      renderPlans();
      show("plans");
      return;
    }
    show("number");
    slot("number-error").textContent = t(
      !answer ? "offline"
        : answer.status === 404 ? "number_unknown"
          : answer.status === 422 ? "number_invalid" : "problem_other"
    );
  }

  function renderPlans() {
    var card = customer.card;
    slot("owner").textContent = card.owner_name_masked || "—";
    slot("msisdn").textContent = groupNumber(card.msisdn);
    var packages = (card.packages || []).map(function (item) {
      var row = el("li", { "class": "package", "data-package": item.plan_code });
      row.append(
        el("span", { "class": "package-left" }, t("left_of", {
          left: dataAmount(item.quota_remaining_bytes),
          total: dataAmount(item.quota_total_bytes),
        })),
        el("span", { "class": "muted" }, t("until", { when: localTime(item.expires_at) }))
      );
      return row;
    });
    if (!packages.length) packages = [el("li", { "class": "muted" }, t("no_packages"))];
    slot("packages").replaceChildren.apply(slot("packages"), packages);
    var choices = catalogue.map(function (plan) {
      var button = el("button", { type: "button", "class": "plan choice", "data-plan": plan.code });
      button.append(
        el("span", { "class": "plan-data" }, dataAmount(plan.data_bytes)),
        el("span", { "class": "plan-days" }, validity(plan.validity_days)),
        el("span", { "class": "price", "data-price": plan.code }, rupiah(plan.price))
      );
      return button;
    });
    slot("plan-choices").replaceChildren.apply(slot("plan-choices"), choices);
  }

  function choosePlan(code) {
    customer.plan = planByCode(code);
    if (!customer.plan || !customer.card) return;
    renderPay();
    show("pay");
  }

  function renderPay() {
    slot("pay-summary").replaceChildren(
      el("dt", {}, t("plan")),
      el("dd", {}, planName(customer.plan.code)),
      el("dt", {}, t("card")),
      el("dd", {}, groupNumber(customer.card.msisdn)),
      el("dt", {}, t("total")),
      el("dd", { "class": "total", "data-total": "" }, rupiah(customer.plan.price))
    );
  }

  function openOperator() {
    if (current() !== "start") return;
    slot("operator-key").textContent = kioskKey ? t("operator_key", { tail: kioskKey.slice(-4) }) : "";
    show("operator");
  }

  // -- wiring -----------------------------------------------------------------------------

  root.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !root.contains(button)) return;
    if (button.hasAttribute("data-key")) return press(button.getAttribute("data-key"));
    if (button.hasAttribute("data-lang")) return applyLanguage(button.getAttribute("data-lang"));
    if (button.hasAttribute("data-plan")) return choosePlan(button.getAttribute("data-plan"));
    if (button.hasAttribute("data-method")) {
      if (customer.card && customer.plan) startSale(button.getAttribute("data-method"));
      return;
    }
    switch (button.getAttribute("data-do")) {
      case "begin": return begin();
      case "look-up": return lookUp();
      case "to-number":
        customer.card = null;
        customer.plan = null;
        ["owner", "msisdn", "packages", "plan-choices"].forEach(function (name) { slot(name).replaceChildren(); });
        return show("number");
      case "to-plans": return show("plans");
      case "abandon": return abandon();
      case "try-again": return tryAgain();
      case "retry": return customer.retry ? customer.retry() : tryAgain();
      case "reset": return reset();
      case "forget-key":
        localStorage.removeItem(KEY_STORE);
        kioskKey = "";
        return showSetup("");
      case "reload": return window.location.reload();
    }
  });

  root.querySelector('[data-form="setup"]').addEventListener("submit", function (event) {
    event.preventDefault();
    saveKey(document.getElementById("kiosk-key").value);
  });

  // A physical keypad or keyboard works on the number screen as the on-screen pad does.
  document.addEventListener("keydown", function (event) {
    if (current() !== "number") return;
    if (/^[\d+]$/.test(event.key)) press(event.key);
    else if (event.key === "Backspace") press("back");
    else if (event.key === "Enter") lookUp();
    else return;
    event.preventDefault();
  });

  ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, function () { lastTouch = Date.now(); }, { capture: true, passive: true });
  });

  var corner = root.querySelector("[data-operator-corner]");
  var pressing = null;
  corner.addEventListener("pointerdown", function () {
    clearTimeout(pressing);
    pressing = setTimeout(openOperator, LONG_PRESS_MS);
  });
  ["pointerup", "pointerleave", "pointercancel"].forEach(function (name) {
    corner.addEventListener(name, function () { clearTimeout(pressing); });
  });
  corner.addEventListener("contextmenu", function (event) { event.preventDefault(); });

  setInterval(idleCheck, 500);
  setInterval(heartbeat, HEARTBEAT_MS);

  (async function boot() {
    applyLanguage(lang);
    loadCatalogue();
    if (!kioskKey) {
      showSetup("");
      return;
    }
    try {
      await api("POST", "/api/v1/kiosk/heartbeat", { body: beat() });
    } catch (error) {
      if (error instanceof KeyRejected) return;
      // offline at start: sell as soon as the server answers again
    }
    recover();
  })();
})();
