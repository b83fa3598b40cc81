// Docutils writes the bibliography as <div role="list"> whose entries have the role
// "doc-biblioentry" (deprecated in ARIA 1.3), so a screen reader is told of a list with no
// items. Make each entry a list item. (Jupyter Book loads every .js file under _static/.)
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll('[role="list"].citation-list > [role="doc-biblioentry"]')
    .forEach((entry) => entry.setAttribute("role", "listitem"));
});
