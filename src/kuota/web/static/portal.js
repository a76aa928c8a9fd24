// kuota portal: small progressive enhancements; every page works without them.
(function () {
  // A second click on "Pay" sends nothing more (the server would replay the first answer anyway).
  document.querySelectorAll("form.pay").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (button) { setTimeout(function () { button.disabled = true; }, 0); }
    });
  });
  // A page waiting for a payment asks every two seconds and reloads once it is decided.
  var waiting = document.querySelector("[data-follow]");
  if (waiting) {
    var url = waiting.getAttribute("data-follow");
    var tick = function () {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (state) {
          if (state && state.status !== "pending_payment") { window.location.reload(); }
          else { setTimeout(tick, 2000); }
        })
        .catch(function () { setTimeout(tick, 4000); });
    };
    setTimeout(tick, 2000);
  }
})();
