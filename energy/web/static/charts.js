// Draws the Plotly figures the server embedded as JSON next to each chart container.
"use strict";
(function () {
  document.querySelectorAll("div.chart[data-figure]").forEach(function (element) {
    const source = document.getElementById(element.dataset.figure);
    if (!source || typeof Plotly === "undefined") { return; }
    const figure = JSON.parse(source.textContent);
    Plotly.newPlot(element, figure.data, figure.layout, { displaylogo: false, responsive: true });
  });
})();
