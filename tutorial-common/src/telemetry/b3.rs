//! Zipkin B3 propagation (Istio's default headers with Zipkin/Jaeger): reads the single `b3` header or the
//! `x-b3-*` headers, writes the `x-b3-*` headers.

use std::sync::LazyLock;

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter},
    trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState},
};

/// Zipkin B3 propagation: reads the single `b3` header or the `x-b3-*` headers, writes the `x-b3-*` headers.
#[derive(Debug)]
pub struct B3Propagator;

static B3_FIELDS: LazyLock<[String; 4]> =
    LazyLock::new(|| ["x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "b3"].map(String::from));

impl B3Propagator {
    fn span_context(trace: &str, span: &str, sampled: Option<&str>) -> Option<SpanContext> {
        let trace = if trace.len() == 16 {
            format!("{trace:0>32}")
        } else {
            trace.to_owned()
        };
        if trace.len() != 32 || span.len() != 16 {
            return None;
        }
        let trace_id = TraceId::from_hex(&trace).ok()?;
        let span_id = SpanId::from_hex(span).ok()?;
        let flags = match sampled {
            Some("1" | "true" | "d") => TraceFlags::SAMPLED,
            _ => TraceFlags::default(),
        };
        let sc = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
        sc.is_valid().then_some(sc)
    }

    fn extract_span_context(extractor: &dyn Extractor) -> Option<SpanContext> {
        if let Some(single) = extractor.get("b3") {
            let mut parts = single.trim().split('-');
            let (trace, span) = (parts.next()?, parts.next()?);
            return Self::span_context(trace, span, parts.next());
        }
        Self::span_context(
            extractor.get("x-b3-traceid")?.trim(),
            extractor.get("x-b3-spanid")?.trim(),
            extractor.get("x-b3-sampled").map(str::trim),
        )
    }
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            injector.set("x-b3-traceid", sc.trace_id().to_string());
            injector.set("x-b3-spanid", sc.span_id().to_string());
            injector.set(
                "x-b3-sampled",
                if sc.is_sampled() { "1" } else { "0" }.to_owned(),
            );
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        match Self::extract_span_context(extractor) {
            Some(sc) => cx.with_remote_span_context(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(B3_FIELDS.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn extract_b3(pairs: &[(&str, &str)]) -> Option<SpanContext> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cx = B3Propagator.extract(&map);
        let sc = cx.span().span_context().clone();
        sc.is_valid().then_some(sc)
    }

    #[test]
    fn b3_multi_and_single_headers_are_read() {
        let multi = extract_b3(&[
            ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
            ("x-b3-sampled", "1"),
        ])
        .unwrap();
        assert_eq!(
            multi.trace_id().to_string(),
            "463ac35c9f6413ad48485a3953bb6124"
        );
        assert!(multi.is_sampled());
        let single = extract_b3(&[("b3", "463ac35c9f6413ad-a2fb4a1d1a96d312-0")]).unwrap();
        assert_eq!(
            single.trace_id().to_string(),
            "0000000000000000463ac35c9f6413ad"
        );
        assert!(!single.is_sampled());
    }

    #[test]
    fn malformed_b3_is_ignored() {
        for (reason, pairs) in [
            (
                "short span id",
                vec![("x-b3-traceid", "463ac35c9f6413ad"), ("x-b3-spanid", "a2")],
            ),
            ("not hex", vec![("b3", "zzzzzzzzzzzzzzzz-a2fb4a1d1a96d312")]),
            (
                "all zero",
                vec![("b3", "0000000000000000-0000000000000000-1")],
            ),
        ] {
            assert!(extract_b3(&pairs).is_none(), "{reason}");
        }
    }
}
