// The intake assistant: a click on a suggestion fills the form field; nothing is filled by itself.
(function () {
  if (window.huiyinAssist) return;
  window.huiyinAssist = true;
  document.addEventListener("click", function (e) {
    var el = e.target.closest("[data-fill]");
    if (!el) return;
    e.preventDefault();
    var field = document.querySelector(el.getAttribute("data-fill"));
    if (!field) return;
    field.value = el.getAttribute("data-value");
    field.dispatchEvent(new Event("change", { bubbles: true }));
    field.classList.add("is-valid");
  });
})();
