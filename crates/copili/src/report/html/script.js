(function () {
  // Only the interactive part: filtering by a search. Everything else reads without scripts.
  // A link to a log (#log-NAME, as the failures' are) opens it.
  function openTarget() {
    var target = location.hash && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") { target.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  var search = document.getElementById("search");
  search.hidden = false;
  search.addEventListener("input", function () {
    var query = search.value.toLowerCase();
    document.querySelectorAll("details.log").forEach(function (log) {
      var text = log.textContent.toLowerCase();
      var match = query === "" || text.indexOf(query) >= 0;
      log.classList.toggle("hidden", !match);
      if (query !== "" && match) { log.open = true; }
    });
    document.querySelectorAll("#summary tr.container").forEach(function (row) {
      var match = query === "" || row.textContent.toLowerCase().indexOf(query) >= 0;
      row.classList.toggle("hidden", !match);
    });
  });
})();
