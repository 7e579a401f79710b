// The staff pages' one small script: keyboard helpers, character counters, the next-step buttons.
(function () {
  var texts = {};
  try { texts = JSON.parse(document.getElementById("i18n-js").textContent); } catch (e) { texts = {}; }
  function fmt(template, values) {
    return String(template || "").replace(/%\((\w+)\)[sd]/g, function (_, k) { return values[k]; });
  }

  document.addEventListener("keydown", function (e) {
    // Ctrl+Enter submits the form you are in.
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      var form = e.target.closest && e.target.closest("form");
      if (form) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.submit(); }
      return;
    }
    // Enter in a single-line field of the intake and action forms never submits them (a caller's
    // number typed and Enter pressed must not register a half-filled case); the sign-in form keeps it.
    if (e.key === "Enter" && !e.shiftKey && !e.altKey && e.target.tagName === "INPUT" &&
        e.target.type !== "submit" && e.target.type !== "button" && e.target.closest("form[data-enter-guard]")) {
      e.preventDefault();
      return;
    }
    // "/" jumps to the search box.
    if (e.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      var box = document.querySelector("[data-hotkey='/']");
      if (box && box.offsetParent !== null) { e.preventDefault(); box.focus(); }
    }
  });

  // Filters that apply as soon as they change (the board's and the dashboard's unit pickers).
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-autosubmit]") && e.target.form) {
      e.target.form.requestSubmit ? e.target.form.requestSubmit() : e.target.form.submit();
    }
  });

  // A consultation answered on the spot: show the answer box only for consultations.
  document.addEventListener("change", function (e) {
    if (e.target.name === "kind") {
      var box = document.getElementById("answer-box");
      if (box) { box.hidden = e.target.value !== "consultation"; }
      // A kind the policy calls back needs a way to reach the caller.
      var form = e.target.form, label = document.getElementById("f-phone-label");
      if (form && label && form.hasAttribute("data-callback-kinds")) {
        var kinds = form.getAttribute("data-callback-kinds").split(" ");
        label.classList.toggle("required", kinds.indexOf(e.target.value) >= 0);
      }
    }
  });

  // Character counters where a field has a limit: pasted text is never cut silently; a field
  // over its limit says by how much and keeps its form from being sent.
  function counter(field) {
    var max = parseInt(field.getAttribute("data-maxlength"), 10);
    var out = document.getElementById(field.id + "-count");
    if (!out) {
      out = document.createElement("div");
      out.id = field.id + "-count";
      out.className = "char-count form-hint";
      out.setAttribute("aria-live", "polite");
      field.insertAdjacentElement("afterend", out);
    }
    var n = Array.from(field.value).length;
    out.textContent = fmt(texts.count, {n: n, max: max});
    var over = n > max;
    out.classList.toggle("over", over);
    field.classList.toggle("is-invalid", over);
    field.setCustomValidity(over ? fmt(texts.over, {max: max, over: n - max}) : "");
  }
  function counters(root) {
    (root || document).querySelectorAll("[data-maxlength]").forEach(counter);
  }
  document.addEventListener("input", function (e) {
    if (e.target.hasAttribute && e.target.hasAttribute("data-maxlength")) { counter(e.target); }
  });
  document.addEventListener("DOMContentLoaded", function () { counters(document); });
  document.addEventListener("htmx:afterSwap", function (e) { counters(e.target); });

  // The next-step buttons of the case page open the action's form and put the cursor in it.
  document.addEventListener("click", function (e) {
    var opener = e.target.closest && e.target.closest("[data-open-action]");
    if (opener) {
      var form = document.querySelector('details[data-action-form="' + opener.getAttribute("data-open-action") + '"]');
      if (form) {
        e.preventDefault();
        form.open = true;
        form.scrollIntoView({block: "start"});
        var first = form.querySelector("input:not([type=hidden]), select, textarea");
        if (first) { first.focus({preventScroll: true}); }
      }
    }
    var printer = e.target.closest && e.target.closest("[data-print]");
    if (printer) { e.preventDefault(); window.print(); }
  });

  // The caller's history fills in the name the caller gave before, when the field is empty.
  document.addEventListener("htmx:afterSwap", function (e) {
    var known = e.target.querySelector && e.target.querySelector("[data-known-name]");
    var name = document.getElementById("f-name");
    if (known && name && !name.value) {
      name.value = known.getAttribute("data-known-name");
      name.classList.add("prefilled");
    }
  });
})();
