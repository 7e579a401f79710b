// The dashboard's charts (Apache ECharts), drawn from the JSON the page embeds.
(function () {
  function ready(fn) { if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); } }
  ready(function () {
    if (!window.echarts) { return; }
    var data = JSON.parse(document.getElementById("dashboard-data").textContent);
    var L = data.labels;
    var font = getComputedStyle(document.body).fontFamily;
    var charts = [];
    function draw(id, option) {
      var el = document.getElementById(id);
      if (!el) { return; }
      var chart = echarts.init(el, null, { renderer: "svg", locale: document.documentElement.lang === "en" ? "EN" : "ZH" });
      option.textStyle = { fontFamily: font };
      option.animation = false;
      chart.setOption(option);
      charts.push(chart);
    }
    function empty(title) { return { title: { text: L.empty, left: "center", top: "middle", textStyle: { color: "#999", fontSize: 14 } } }; }
    draw("chart-open", data.open.units.length ? {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { type: "scroll", bottom: 0 },
      grid: { left: 8, right: 16, top: 16, bottom: 40, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: data.open.units, inverse: true },
      series: data.open.series.map(function (s) { return { name: s.name, type: "bar", stack: "open", data: s.data, barMaxWidth: 28 }; })
    } : empty());
    draw("chart-intake", {
      tooltip: { trigger: "axis" },
      grid: { left: 8, right: 16, top: 16, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.intake.days, boundaryGap: false },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: L.cases, type: "line", data: data.intake.counts, areaStyle: { opacity: 0.15 }, symbolSize: 5 }]
    });
    draw("chart-timeliness", data.timeliness.length ? {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { bottom: 0 },
      grid: { left: 8, right: 16, top: 16, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: data.timeliness.map(function (t) { return t.name; }) },
      yAxis: { type: "value", minInterval: 1 },
      color: ["#2fb344", "#d63939"],
      series: [
        { name: L.met, type: "bar", stack: "t", data: data.timeliness.map(function (t) { return t.met; }) },
        { name: L.breached, type: "bar", stack: "t", data: data.timeliness.map(function (t) { return t.breached; }) }
      ]
    } : empty());
    draw("chart-satisfaction", data.satisfaction.length ? {
      tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
      legend: { bottom: 0 },
      series: [{ type: "pie", radius: ["40%", "70%"], data: data.satisfaction, label: { formatter: "{b}\n{d}%" } }]
    } : empty());
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  });
})();
