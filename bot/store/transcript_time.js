// Rimpllee transcripts: show every <time> in the reader's time zone and language.
// The page reads in UTC without this script; it only changes text, never markup.
(function () {
  "use strict";
  var styles = {
    t: { hour: "2-digit", minute: "2-digit" },
    T: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
    d: { year: "numeric", month: "2-digit", day: "2-digit" },
    D: { year: "numeric", month: "long", day: "numeric" },
    f: { year: "numeric", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit" },
    F: {
      weekday: "long", year: "numeric", month: "long", day: "numeric",
      hour: "2-digit", minute: "2-digit"
    },
    s: {
      year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    },
    m: { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" },
    g: { hour: "2-digit", minute: "2-digit" },
    day: { year: "numeric", month: "long", day: "numeric" }
  };
  var full = {
    weekday: "long", year: "numeric", month: "long", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  };
  var units = [
    ["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400],
    ["hour", 3600], ["minute", 60], ["second", 1]
  ];

  // Building a formatter is the slow part: one per style, for every <time> of the page.
  var formatters = {};
  function formatter(style) {
    if (!(style in formatters)) {
      formatters[style] = new Intl.DateTimeFormat(undefined, styles[style] || full);
    }
    return formatters[style];
  }
  var relativeFormat = null;

  function relative(date) {
    var seconds = (date.getTime() - Date.now()) / 1000;
    var format = relativeFormat || (relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }));
    for (var i = 0; i < units.length; i++) {
      if (Math.abs(seconds) >= units[i][1] || units[i][0] === "second") {
        return format.format(Math.round(seconds / units[i][1]), units[i][0]);
      }
    }
    return "";
  }

  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (e) {
    return;
  }
  var times = document.querySelectorAll("time[datetime][data-f]");
  for (var i = 0; i < times.length; i++) {
    var el = times[i];
    var date = new Date(el.getAttribute("datetime"));
    var style = el.getAttribute("data-f");
    if (isNaN(date.getTime()) || !(style in styles || style === "R")) {
      continue;
    }
    el.textContent = style === "R" ? relative(date) : formatter(style).format(date);
    el.title = formatter("title").format(date);
  }
  var notes = document.querySelectorAll(".zone");
  for (var j = 0; j < notes.length; j++) {
    notes[j].textContent = "times in your time zone" + (zone ? " (" + zone + ")" : "");
  }
})();
