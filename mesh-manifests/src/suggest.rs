//! "Did you mean": the fields a type takes where a document has an unknown one, found by asking the type
//! itself. A probe deserializer walks down to the unknown field's parent along its path, handing the type
//! one map entry or list item at a time, and records the field list serde's derive (and k8s-openapi's
//! hand-written impls) pass to `deserialize_struct` there. Nothing is listed by hand, so a new Istio field
//! is suggested as soon as the type has it.

use std::cell::Cell;
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

/// The closest of the fields `T` takes beside the unknown field at `path` (dotted, list items by index),
/// when one is close enough to be a typo.
pub fn did_you_mean<T: de::DeserializeOwned>(path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.split('.').collect();
    let unknown = segments.pop()?;
    let found = Cell::new(None);
    let probe = Probe {
        rest: &segments,
        found: &found,
    };
    // The probe always ends in an error: it only walks the type, it never builds a value.
    let _ = T::deserialize(probe);
    let fields = found.get()?;
    closest(unknown, fields)
}

/// The field nearest `unknown` by edit distance: at most 2 edits (a swapped pair counts as one), or a
/// different case only.
fn closest(unknown: &str, fields: &[&str]) -> Option<String> {
    fields
        .iter()
        .map(|f| {
            (
                strsim::damerau_levenshtein(&unknown.to_ascii_lowercase(), &f.to_ascii_lowercase()),
                f,
            )
        })
        .filter(|(d, f)| *d <= 2.min(f.len() / 2) || f.eq_ignore_ascii_case(unknown))
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| (*f).to_owned())
}

/// Walks the type down `rest`; at its end, records the struct's fields.
#[derive(Clone, Copy)]
struct Probe<'a> {
    rest: &'a [&'a str],
    found: &'a Cell<Option<&'static [&'static str]>>,
}

#[derive(Debug)]
struct Stop;

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("probe done")
    }
}

impl std::error::Error for Stop {}

impl de::Error for Stop {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Stop
    }
}

impl<'de> Deserializer<'de> for Probe<'_> {
    type Error = Stop;

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Stop> {
        let Some((key, rest)) = self.rest.split_first() else {
            self.found.set(Some(fields));
            return Err(Stop);
        };
        visitor.visit_map(Entry {
            key: Some(key),
            value: Probe {
                rest,
                found: self.found,
            },
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        let Some((_, rest)) = self.rest.split_first() else {
            return Err(Stop);
        };
        visitor.visit_seq(Item(Some(Probe {
            rest,
            found: self.found,
        })))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Stop> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Stop> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Stop> {
        Err(Stop)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct tuple tuple_struct map enum identifier ignored_any
    }
}

/// A map of one entry: the next field on the path.
struct Entry<'a> {
    key: Option<&'a str>,
    value: Probe<'a>,
}

impl<'de> MapAccess<'de> for Entry<'_> {
    type Error = Stop;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Stop> {
        match self.key.take() {
            Some(k) => seed
                .deserialize(IntoDeserializer::<Stop>::into_deserializer(k))
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Stop> {
        seed.deserialize(self.value)
    }
}

/// A list of one item: the next step of the path.
struct Item<'a>(Option<Probe<'a>>);

impl<'de> SeqAccess<'de> for Item<'_> {
    type Error = Stop;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Stop> {
        match self.0.take() {
            Some(p) => seed.deserialize(p).map(Some),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kcr_networking_istio_io::v1::destinationrules::DestinationRule;
    use crate::kcr_networking_istio_io::v1::virtualservices::VirtualService;
    use k8s_openapi::api::apps::v1::Deployment;

    #[test]
    fn a_misspelt_field_gets_the_one_the_type_takes_there() {
        assert_eq!(
            did_you_mean::<VirtualService>("spec.http.0.route.0.wieght").as_deref(),
            Some("weight")
        );
        assert_eq!(
            did_you_mean::<DestinationRule>("spec.subset").as_deref(),
            Some("subsets")
        );
        assert_eq!(
            did_you_mean::<DestinationRule>("spec.trafficPolicy.conectionPool").as_deref(),
            Some("connectionPool")
        );
        assert_eq!(
            did_you_mean::<VirtualService>("metadata.lables").as_deref(),
            Some("labels")
        );
        assert_eq!(
            did_you_mean::<Deployment>("spec.template.spec.containers.0.imagee").as_deref(),
            Some("image")
        );
        assert_eq!(
            did_you_mean::<Deployment>("spec.replica").as_deref(),
            Some("replicas")
        );
    }

    #[test]
    fn a_field_far_from_every_one_gets_no_suggestion() {
        assert_eq!(did_you_mean::<VirtualService>("spec.http.0.banana"), None);
        assert_eq!(did_you_mean::<VirtualService>("spec.nothere.x"), None);
        assert_eq!(did_you_mean::<DestinationRule>("spec.ab"), None);
    }
}
