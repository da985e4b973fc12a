(function () {
  "use strict";
  // Flow text only ever reaches the page as server-escaped markup that is cloned here, or
  // through textContent: nothing from a flow is ever parsed as HTML by this script.
  var tip = document.getElementById("tip");
  var panel = document.getElementById("panel");
  var panelBody = document.getElementById("panel-body");
  var selected = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function detailFor(node) {
    var src = document.getElementById(node.getAttribute("data-detail") || "");
    if (src) {
      var copy = src.cloneNode(true);
      copy.removeAttribute("id");
      return copy;
    }
    var box = el("div", "detail");
    var h = el("h4", null, node.getAttribute("data-label") || "");
    h.appendChild(document.createTextNode(" "));
    h.appendChild(el("span", "meta", (node.getAttribute("data-type") || "") + " \u00b7 id " + (node.getAttribute("data-node-id") || "")));
    box.appendChild(h);
    box.appendChild(el("p", null, "No findings on this node."));
    return box;
  }

  function place(x, y) {
    var w = tip.offsetWidth, h = tip.offsetHeight;
    var left = Math.min(x + 16, window.innerWidth - w - 8);
    var top = y + 16 + h > window.innerHeight ? Math.max(8, y - h - 12) : y + 16;
    tip.style.left = Math.max(8, left) + "px";
    tip.style.top = top + "px";
  }

  function showTip(node, x, y) {
    tip.replaceChildren(detailFor(node));
    tip.hidden = false;
    place(x, y);
  }

  function hideTip() { tip.hidden = true; }

  function clearSelection() {
    document.querySelectorAll(".on-path, .selected").forEach(function (e) {
      e.classList.remove("on-path");
      e.classList.remove("selected");
    });
    selected = null;
  }

  function highlightPaths(node) {
    var spec = node.getAttribute("data-paths") || "";
    spec.split(";").forEach(function (path) {
      var ids = path.split(" ").filter(Boolean);
      ids.forEach(function (id, i) {
        var n = document.getElementById(id);
        if (n && n !== node) { n.classList.add("on-path"); }
        if (i > 0) {
          document.querySelectorAll('.wire[data-from="' + ids[i - 1] + '"][data-to="' + id + '"]').forEach(function (w) {
            w.classList.add("on-path");
          });
        }
      });
    });
  }

  function pin(node) {
    clearSelection();
    selected = node;
    node.classList.add("selected");
    highlightPaths(node);
    panelBody.replaceChildren(detailFor(node));
    panel.hidden = false;
    hideTip();
  }

  function closePanel() {
    clearSelection();
    panel.hidden = true;
  }

  document.querySelectorAll("g.node").forEach(function (node) {
    node.addEventListener("mouseenter", function (ev) { showTip(node, ev.clientX, ev.clientY); });
    node.addEventListener("mousemove", function (ev) { if (!tip.hidden) { place(ev.clientX, ev.clientY); } });
    node.addEventListener("mouseleave", hideTip);
    node.addEventListener("focus", function () {
      var r = node.getBoundingClientRect();
      showTip(node, r.right, r.top);
    });
    node.addEventListener("blur", hideTip);
    node.addEventListener("click", function (ev) { ev.stopPropagation(); pin(node); });
    node.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pin(node); }
    });
  });

  document.querySelectorAll("a.goto").forEach(function (a) {
    a.addEventListener("click", function (ev) {
      var node = document.getElementById(a.getAttribute("href").slice(1));
      if (!node) { return; }
      ev.preventDefault();
      var box = node.closest("details");
      if (box) { box.open = true; }
      node.scrollIntoView({ block: "center", inline: "center" });
      pin(node);
    });
  });

  document.querySelectorAll("button.fit").forEach(function (b) {
    b.addEventListener("click", function (ev) {
      ev.preventDefault();
      var canvas = document.getElementById(b.getAttribute("data-canvas"));
      if (!canvas) { return; }
      var fit = canvas.classList.toggle("fit");
      b.textContent = fit ? "Actual size" : "Fit to width";
      b.setAttribute("aria-pressed", fit ? "true" : "false");
    });
  });

  document.getElementById("panel-close").addEventListener("click", closePanel);
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape") { hideTip(); if (selected) { closePanel(); } }
  });
})();
