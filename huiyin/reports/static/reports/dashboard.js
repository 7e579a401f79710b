// The reports' charts (Apache ECharts, drawn from the page's JSON): a click on a figure opens the
// case list behind it — the same list the figure counts.
(function () {
  function ready(fn) { if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); } }
  ready(function () {
    var source = document.getElementById("report-data");
    if (!window.echarts || !source) { return; }
    var data = JSON.parse(source.textContent);
    var L = data.labels || {};
    var font = getComputedStyle(document.body).fontFamily;
    var charts = [];
    function draw(id, option, urlOf) {
      var el = document.getElementById(id);
      if (!el) { return null; }
      var chart = echarts.init(el, null, { renderer: "svg", locale: document.documentElement.lang === "en" ? "EN" : "ZH" });
      option.textStyle = { fontFamily: font };
      option.animation = false;
      chart.setOption(option);
      if (urlOf) {
        chart.on("click", function (p) { var url = urlOf(p); if (url) { window.location.href = url; } });
      }
      el.setAttribute("data-drawn", "1");
      charts.push(chart);
      return chart;
    }
    function empty() { return { title: { text: L.empty || "", left: "center", top: "middle", textStyle: { color: "#999", fontSize: 14 } } }; }
    function pie(id, rows) {
      draw(id, rows.length ? {
        tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" }, legend: { type: "scroll", bottom: 0 },
        series: [{ type: "pie", radius: ["35%", "65%"], data: rows.map(function (r) { return { name: r.name, value: r.value }; }),
                   label: { formatter: "{b}\n{c}" } }]
      } : empty(), function (p) { return rows[p.dataIndex] && rows[p.dataIndex].url; });
    }
    function bars(id, rows, horizontal) {
      var names = rows.map(function (r) { return r.name; });
      var values = rows.map(function (r) { return r.value; });
      draw(id, rows.length ? {
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
        xAxis: horizontal ? { type: "value", minInterval: 1 } : { type: "category", data: names, axisLabel: { interval: 0, rotate: names.length > 6 ? 30 : 0 } },
        yAxis: horizontal ? { type: "category", data: names, inverse: true } : { type: "value" },
        series: [{ type: "bar", data: values, barMaxWidth: 28 }]
      } : empty(), function (p) { return rows[p.dataIndex] && rows[p.dataIndex].url; });
    }
    if (data.trend) {
      draw("chart-trend", {
        tooltip: { trigger: "axis" }, grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: data.trend.labels, boundaryGap: false },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: L.received, type: "line", data: data.trend.counts, areaStyle: { opacity: 0.15 }, symbolSize: 6 }]
      }, function (p) { return data.trend.urls[p.dataIndex]; });
    }
    if (data.channel) { pie("chart-channel", data.channel); }
    if (data.category) { bars("chart-category", data.category, true); }
    if (data.units) {
      bars("chart-units", data.units.map(function (u) { return { name: u.name, value: u.received, url: u.url }; }), true);
    }
    // the printable report: one chart per section
    (data.sections || []).forEach(function (s) {
      var rows = s.points.filter(function (p) { return p.value !== null; });
      if (s.kind === "pie") { pie("chart-" + s.key, rows); }
      else if (s.kind === "line") {
        draw("chart-" + s.key, {
          tooltip: { trigger: "axis" }, grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
          xAxis: { type: "category", data: rows.map(function (r) { return r.name; }) }, yAxis: { type: "value", minInterval: 1 },
          series: [{ type: "line", data: rows.map(function (r) { return r.value; }), symbolSize: 6 }]
        }, function (p) { return rows[p.dataIndex] && rows[p.dataIndex].url; });
      } else { bars("chart-" + s.key, rows, rows.length > 6); }
    });
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();
