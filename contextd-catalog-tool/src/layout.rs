//! Grafana panels as data, and their layout on the dashboard grid: the generators say what a
//! panel shows (kind, queries, unit, thresholds, description, links); this module turns that
//! into Grafana's JSON and places rows and panels left to right, top to bottom on the 24-column
//! grid.

use serde_json::{Value, json};

/// The data source every query goes to (provisioned in `monitoring/grafana`).
const DATASOURCE: &str = "victoriametrics";

/// How a panel draws its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Lines over time: rates, ratios, quantiles.
    TimeSeries,
    /// One big number: a current value.
    Stat,
    /// A dial between min and max, coloured by thresholds: a current value with a range.
    Gauge,
    /// Horizontal bars, one per series: a breakdown of a current value.
    BarGauge,
    /// Histogram buckets over time.
    Heatmap,
}

impl Kind {
    fn grafana_type(self) -> &'static str {
        match self {
            Self::TimeSeries => "timeseries",
            Self::Stat => "stat",
            Self::Gauge => "gauge",
            Self::BarGauge => "bargauge",
            Self::Heatmap => "heatmap",
        }
    }
}

/// One query of a panel.
#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) expr: String,
    pub(crate) legend: String,
}

/// One panel, before layout.
#[derive(Debug, Clone)]
pub(crate) struct Panel {
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) kind: Kind,
    pub(crate) unit: &'static str,
    pub(crate) queries: Vec<Query>,
    /// The colour below the first threshold step (green unless said otherwise).
    pub(crate) base: &'static str,
    /// Threshold steps above the base: (from value, colour).
    pub(crate) thresholds: Vec<(f64, &'static str)>,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    /// Width in grid columns (of 24) and height in grid rows.
    pub(crate) size: (u32, u32),
    /// (title, url) links shown on the panel, e.g. the runbook section of its alert.
    pub(crate) links: Vec<(String, String)>,
}

impl Panel {
    /// A panel of `kind` with one query, 12 columns wide and 8 rows high.
    pub(crate) fn new(
        kind: Kind,
        title: impl Into<String>,
        description: impl Into<String>,
        unit: &'static str,
    ) -> Self {
        Self {
            title: title.into(),
            description: description.into(),
            kind,
            unit,
            queries: Vec::new(),
            base: "green",
            thresholds: Vec::new(),
            min: None,
            max: None,
            size: (12, 8),
            links: Vec::new(),
        }
    }

    pub(crate) fn query(mut self, expr: impl Into<String>, legend: impl Into<String>) -> Self {
        self.queries.push(Query { expr: expr.into(), legend: legend.into() });
        self
    }

    pub(crate) fn base(mut self, colour: &'static str) -> Self {
        self.base = colour;
        self
    }

    pub(crate) fn threshold(mut self, from: f64, colour: &'static str) -> Self {
        self.thresholds.push((from, colour));
        self
    }

    pub(crate) fn range(mut self, min: f64, max: f64) -> Self {
        (self.min, self.max) = (Some(min), Some(max));
        self
    }

    pub(crate) fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    pub(crate) fn link(mut self, title: impl Into<String>, url: impl Into<String>) -> Self {
        self.links.push((title.into(), url.into()));
        self
    }
}

/// What a dashboard lists, in order.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// A row heading, full width, with a description of what the row answers.
    Row(String),
    Panel(Panel),
}

/// A link as Grafana's dashboard schema spells it out (every field it requires).
pub(crate) fn link(title: &str, url: &str) -> Value {
    json!({"title": title, "type": "link", "url": url, "icon": "external link", "tooltip": "", "tags": [],
           "asDropdown": false, "targetBlank": true, "includeVars": false, "keepTime": false})
}

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": DATASOURCE})
}

fn panel_json(id: usize, panel: Panel, (x, y): (u32, u32)) -> Value {
    let heatmap = panel.kind == Kind::Heatmap;
    let targets: Vec<Value> = panel
        .queries
        .into_iter()
        .enumerate()
        .map(|(i, q)| {
            let mut target = json!({"refId": char::from(b'A' + i as u8).to_string(), "expr": q.expr,
                                    "legendFormat": q.legend, "datasource": datasource()});
            if heatmap {
                target["format"] = json!("heatmap");
            }
            target
        })
        .collect();
    let mut steps = vec![json!({"color": panel.base, "value": null})];
    steps.extend(panel.thresholds.iter().map(|(value, colour)| json!({"color": colour, "value": value})));
    let mut defaults = json!({"unit": panel.unit, "thresholds": {"mode": "absolute", "steps": steps}});
    if let Some(min) = panel.min {
        defaults["min"] = json!(min);
    }
    if let Some(max) = panel.max {
        defaults["max"] = json!(max);
    }
    if panel.kind == Kind::TimeSeries && !panel.thresholds.is_empty() {
        defaults["custom"] = json!({"thresholdsStyle": {"mode": "line"}});
    }
    let options = match panel.kind {
        Kind::TimeSeries => {
            json!({"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}})
        }
        Kind::Stat => {
            json!({"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value", "graphMode": "area"})
        }
        Kind::Gauge => json!({"reduceOptions": {"calcs": ["lastNotNull"]}, "showThresholdMarkers": true}),
        Kind::BarGauge => {
            json!({"reduceOptions": {"calcs": ["lastNotNull"]}, "orientation": "horizontal", "displayMode": "gradient"})
        }
        Kind::Heatmap => json!({"calculate": false, "yAxis": {"unit": panel.unit}, "cellGap": 1,
                                "color": {"mode": "scheme", "scheme": "Oranges"}}),
    };
    let links: Vec<Value> = panel.links.iter().map(|(title, url)| link(title, url)).collect();
    let (width, height) = panel.size;
    json!({
        "id": id,
        "type": panel.kind.grafana_type(),
        "title": panel.title,
        "description": panel.description,
        "datasource": datasource(),
        "gridPos": {"h": height, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
        "links": links,
        "targets": targets,
    })
}

/// Places `items` on the grid: rows start a new line; panels fill lines left to right.
pub(crate) fn layout(items: Vec<Item>) -> Vec<Value> {
    let (mut x, mut y, mut line_height) = (0u32, 0u32, 0u32);
    let mut out = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let id = index + 1;
        match item {
            Item::Row(title) => {
                y += line_height;
                (x, line_height) = (0, 0);
                out.push(json!({"id": id, "type": "row", "title": title, "collapsed": false,
                                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []}));
                y += 1;
            }
            Item::Panel(panel) => {
                let (width, height) = panel.size;
                if x + width > 24 {
                    y += line_height;
                    (x, line_height) = (0, 0);
                }
                out.push(panel_json(id, panel, (x, y)));
                x += width;
                line_height = line_height.max(height);
            }
        }
    }
    out
}
