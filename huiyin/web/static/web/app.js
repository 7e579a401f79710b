// Keyboard helpers for the staff pages: Ctrl+Enter submits the form you are in, "/" jumps to search.
(function () {
  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      var form = e.target.closest && e.target.closest("form");
      if (form) { e.preventDefault(); form.requestSubmit ? form.requestSubmit() : form.submit(); }
    }
    if (e.key === "/" && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
      var box = document.querySelector("[data-hotkey='/']");
      if (box) { e.preventDefault(); box.focus(); }
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
    }
  });
})();
