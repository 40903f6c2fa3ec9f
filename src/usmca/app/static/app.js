// Keyboard: "/" focuses the first search or code box; "g h|d|o|p|r" go to the pages.
(function () {
  var pending = null;
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) return;
    if (e.key === "/") {
      var box = document.querySelector("input[name=q], input[name=hts], textarea");
      if (box) { e.preventDefault(); box.focus(); }
      return;
    }
    if (pending === "g") {
      var to = { h: "/hts", d: "/duty", o: "/origin", p: "/portfolio", r: "/determinations" }[e.key];
      pending = null;
      if (to) window.location.href = to;
      return;
    }
    if (e.key === "g") pending = "g";
  });
})();
