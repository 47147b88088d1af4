//! The OTLP subset a PushTelemetry payload carries (OpenTelemetry `MetricsData` v1 protobuf),
//! declared by hand for `prost` (no protoc at build time), and its flattening into points.
//!
//! Only what is exposed is declared: resource attributes, metric names, Gauge and Sum number
//! points (with their attributes, value, and for sums the temporality and monotonicity), and
//! Histogram points' count and sum. Every other field (exemplars, exponential histograms,
//! summaries, scopes' names...) is skipped by the decoder as an unknown field. Decoding is
//! bounded by the input (whose decompressed size the caller bounds) and prost's recursion limit.

use prost::Message;

#[derive(Clone, PartialEq, Message)]
pub struct MetricsData {
    #[prost(message, repeated, tag = "1")]
    pub resource_metrics: Vec<ResourceMetrics>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ResourceMetrics {
    #[prost(message, optional, tag = "1")]
    pub resource: Option<Resource>,
    #[prost(message, repeated, tag = "2")]
    pub scope_metrics: Vec<ScopeMetrics>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Resource {
    #[prost(message, repeated, tag = "1")]
    pub attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct ScopeMetrics {
    #[prost(message, repeated, tag = "2")]
    pub metrics: Vec<Metric>,
}

#[derive(Clone, PartialEq, Message)]
pub struct Metric {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(oneof = "MetricData", tags = "5, 7, 9")]
    pub data: Option<MetricData>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum MetricData {
    #[prost(message, tag = "5")]
    Gauge(Gauge),
    #[prost(message, tag = "7")]
    Sum(Sum),
    #[prost(message, tag = "9")]
    Histogram(Histogram),
}

#[derive(Clone, PartialEq, Message)]
pub struct Gauge {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
}

/// AggregationTemporality: 1 delta, 2 cumulative.
pub const TEMPORALITY_DELTA: i32 = 1;

#[derive(Clone, PartialEq, Message)]
pub struct Sum {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<NumberDataPoint>,
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
    #[prost(bool, tag = "3")]
    pub is_monotonic: bool,
}

#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    #[prost(message, repeated, tag = "1")]
    pub data_points: Vec<HistogramDataPoint>,
    #[prost(int32, tag = "2")]
    pub aggregation_temporality: i32,
}

#[derive(Clone, PartialEq, Message)]
pub struct NumberDataPoint {
    #[prost(message, repeated, tag = "7")]
    pub attributes: Vec<KeyValue>,
    #[prost(fixed64, tag = "3")]
    pub time_unix_nano: u64,
    #[prost(oneof = "NumberValue", tags = "4, 6")]
    pub value: Option<NumberValue>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum NumberValue {
    #[prost(double, tag = "4")]
    AsDouble(f64),
    #[prost(sfixed64, tag = "6")]
    AsInt(i64),
}

#[derive(Clone, PartialEq, Message)]
pub struct HistogramDataPoint {
    #[prost(message, repeated, tag = "9")]
    pub attributes: Vec<KeyValue>,
    #[prost(fixed64, tag = "4")]
    pub count: u64,
    #[prost(double, optional, tag = "5")]
    pub sum: Option<f64>,
}

#[derive(Clone, PartialEq, Message)]
pub struct KeyValue {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(message, optional, tag = "2")]
    pub value: Option<AnyValue>,
}

#[derive(Clone, PartialEq, Message)]
pub struct AnyValue {
    #[prost(oneof = "AnyValueKind", tags = "1, 2, 3, 4")]
    pub value: Option<AnyValueKind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
pub enum AnyValueKind {
    #[prost(string, tag = "1")]
    String(String),
    #[prost(bool, tag = "2")]
    Bool(bool),
    #[prost(int64, tag = "3")]
    Int(i64),
    #[prost(double, tag = "4")]
    Double(f64),
}

/// How a point's value combines with the previous one of its series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PointKind {
    Gauge,
    /// A monotonic sum (a counter): a delta is added to the series, a cumulative value
    /// replaces it.
    Counter {
        delta: bool,
    },
    /// A non-monotonic sum: exposed as a gauge (a delta is added).
    UpDown {
        delta: bool,
    },
}

/// One number point, flattened: metric name, point attributes, kind, value.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub kind: PointKind,
    pub value: f64,
}

/// Decode a MetricsData payload (already decompressed).
pub fn decode(payload: &[u8]) -> Result<MetricsData, prost::DecodeError> {
    MetricsData::decode(payload)
}

fn any_to_string(v: &Option<AnyValue>) -> String {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(AnyValueKind::String(s)) => s.clone(),
        Some(AnyValueKind::Bool(b)) => b.to_string(),
        Some(AnyValueKind::Int(i)) => i.to_string(),
        Some(AnyValueKind::Double(d)) => d.to_string(),
        None => String::new(),
    }
}

fn attrs(kv: &[KeyValue]) -> Vec<(String, String)> {
    kv.iter()
        .map(|a| (a.key.clone(), any_to_string(&a.value)))
        .collect()
}

fn number(p: &NumberDataPoint) -> Option<f64> {
    match p.value.as_ref()? {
        NumberValue::AsDouble(d) => Some(*d),
        NumberValue::AsInt(i) => Some(*i as f64),
    }
}

/// The resource attributes of the payload (first resource wins for a repeated key).
pub fn resource_attributes(data: &MetricsData) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for rm in &data.resource_metrics {
        for (k, v) in rm
            .resource
            .as_ref()
            .map(|r| attrs(&r.attributes))
            .unwrap_or_default()
        {
            if !out.iter().any(|(ok, _)| *ok == k) {
                out.push((k, v));
            }
        }
    }
    out
}

/// Every number point of the payload. Histograms become two points, `<name>_count` (counter)
/// and `<name>_sum` (counter when present); their buckets are not kept.
pub fn points(data: &MetricsData) -> Vec<Point> {
    let mut out = Vec::new();
    let metrics = data
        .resource_metrics
        .iter()
        .flat_map(|rm| rm.scope_metrics.iter())
        .flat_map(|sm| sm.metrics.iter());
    for m in metrics {
        match &m.data {
            Some(MetricData::Gauge(g)) => {
                for p in &g.data_points {
                    if let Some(value) = number(p) {
                        out.push(Point {
                            name: m.name.clone(),
                            attributes: attrs(&p.attributes),
                            kind: PointKind::Gauge,
                            value,
                        });
                    }
                }
            }
            Some(MetricData::Sum(s)) => {
                let delta = s.aggregation_temporality == TEMPORALITY_DELTA;
                let kind = if s.is_monotonic {
                    PointKind::Counter { delta }
                } else {
                    PointKind::UpDown { delta }
                };
                for p in &s.data_points {
                    if let Some(value) = number(p) {
                        out.push(Point {
                            name: m.name.clone(),
                            attributes: attrs(&p.attributes),
                            kind,
                            value,
                        });
                    }
                }
            }
            Some(MetricData::Histogram(h)) => {
                let delta = h.aggregation_temporality == TEMPORALITY_DELTA;
                for p in &h.data_points {
                    let attributes = attrs(&p.attributes);
                    out.push(Point {
                        name: format!("{}_count", m.name),
                        attributes: attributes.clone(),
                        kind: PointKind::Counter { delta },
                        value: p.count as f64,
                    });
                    if let Some(sum) = p.sum {
                        out.push(Point {
                            name: format!("{}_sum", m.name),
                            attributes,
                            kind: PointKind::Counter { delta },
                            value: sum,
                        });
                    }
                }
            }
            None => {}
        }
    }
    out
}
