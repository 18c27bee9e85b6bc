//! Feature `serde`: operations and results in the spelling of the fixtures in `fixtures/`.
//!
//! Human-readable formats (JSON):
//!
//! ```text
//! operation  {"op": "lookup" | "remove" | "remove_if_present", "key": hex}
//!            {"op": "insert" | "update" | "upsert", "key": hex, "value": hex}
//! outcome    {"found": hex} | "not_found" | "inserted" | "updated" | "removed"
//! failure    "key_exists" | "key_missing"
//! result     an outcome, or {"failure": failure}          (with `serde_result(s)`)
//! ```
//!
//! Binary formats get externally tagged enums (a variant index, then the fields) and raw
//! bytes, so formats that are not self-describing (postcard, bincode) work: an operation is
//! its variant index (lookup 0, insert 1, update 2, upsert 3, remove 4, remove_if_present 5),
//! the key, then the value if it has one; an outcome is found 0 (then the value), not_found 1,
//! inserted 2, updated 3, removed 4; a flat result adds failure 5 (then the failure: key_exists
//! 0, key_missing 1). These indexes are part of the format: variants are only ever appended.
//!
//! Deserialising reads untrusted input and never panics: unknown tags, unknown or repeated
//! fields, a missing field and a `value` on an operation that takes none are errors. Key and
//! value lengths are not limited here; [`Operation::check`] applies [`SizeLimits`] (and the
//! prover and verifier call it) as for operations built in code.
//!
//! [`SizeLimits`]: crate::SizeLimits

use alloc::vec::Vec;
use core::fmt;

use serde::de::{
    self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::ser::{Serialize, SerializeStruct, SerializeTupleVariant, Serializer};

use super::{Failure, OpResult, Operation, Outcome};
use crate::node::serde_bytes::{ByteStr, ByteString};
use crate::node::Bytes;

/// The operation names, in variant-index order.
const TAGS: &[&str] = &[
    "lookup",
    "insert",
    "update",
    "upsert",
    "remove",
    "remove_if_present",
];

/// An operation's kind: its name in text, its variant index in binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(variant_identifier, rename_all = "snake_case")]
enum Tag {
    Lookup,
    Insert,
    Update,
    Upsert,
    Remove,
    RemoveIfPresent,
}

impl Tag {
    fn of(op: &Operation) -> Tag {
        match op {
            Operation::Lookup(_) => Tag::Lookup,
            Operation::Insert(..) => Tag::Insert,
            Operation::Update(..) => Tag::Update,
            Operation::Upsert(..) => Tag::Upsert,
            Operation::Remove(_) => Tag::Remove,
            Operation::RemoveIfPresent(_) => Tag::RemoveIfPresent,
        }
    }

    fn index(self) -> u32 {
        self as u32
    }

    fn name(self) -> &'static str {
        TAGS.get(self as usize).copied().unwrap_or("")
    }

    fn has_value(self) -> bool {
        matches!(self, Tag::Insert | Tag::Update | Tag::Upsert)
    }

    /// The operation, if `value` is present exactly when this kind takes one.
    fn build<E: de::Error>(self, key: Bytes, value: Option<Bytes>) -> Result<Operation, E> {
        Ok(match (self, value) {
            (Tag::Lookup, None) => Operation::Lookup(key),
            (Tag::Remove, None) => Operation::Remove(key),
            (Tag::RemoveIfPresent, None) => Operation::RemoveIfPresent(key),
            (Tag::Insert, Some(v)) => Operation::Insert(key, v),
            (Tag::Update, Some(v)) => Operation::Update(key, v),
            (Tag::Upsert, Some(v)) => Operation::Upsert(key, v),
            (_, None) => return Err(E::missing_field("value")),
            (tag, Some(_)) => {
                return Err(E::custom(format_args!(
                    "a `{}` operation has no `value` field",
                    tag.name()
                )))
            }
        })
    }
}

/// Feature `serde`: `{"op": name, "key": hex}` plus `"value": hex` for insert, update and
/// upsert in human-readable formats (fields in that order); an enum variant with raw bytes in
/// binary formats. The spelling of every variant, in both, is in `src/ops/serde_impls.rs`.
///
/// ```
/// use avlplus::Operation;
/// let op = Operation::insert(b"a", b"1");
/// let json = serde_json::to_string(&op)?;
/// assert_eq!(json, r#"{"op":"insert","key":"61","value":"31"}"#);
/// assert_eq!(serde_json::from_str::<Operation>(&json)?, op);
/// let lookup: Operation = serde_json::from_str(r#"{"key": "61", "op": "lookup"}"#)?;
/// assert_eq!(lookup, Operation::lookup(b"a"));
/// assert!(serde_json::from_str::<Operation>(r#"{"op": "lookup", "key": "6"}"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
impl Serialize for Operation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let tag = Tag::of(self);
        let key = ByteStr(self.key());
        let value = self.value().map(ByteStr);
        if s.is_human_readable() {
            let fields = if value.is_some() { 3 } else { 2 };
            let mut st = s.serialize_struct("Operation", fields)?;
            st.serialize_field("op", tag.name())?;
            st.serialize_field("key", &key)?;
            if let Some(value) = &value {
                st.serialize_field("value", value)?;
            }
            st.end()
        } else {
            match &value {
                None => s.serialize_newtype_variant("Operation", tag.index(), tag.name(), &key),
                Some(value) => {
                    let mut tv =
                        s.serialize_tuple_variant("Operation", tag.index(), tag.name(), 2)?;
                    tv.serialize_field(&key)?;
                    tv.serialize_field(value)?;
                    tv.end()
                }
            }
        }
    }
}

/// Feature `serde`: reads what [`Serialize`] writes; in text, fields in any order.
impl<'de> Deserialize<'de> for Operation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            d.deserialize_struct("Operation", FIELDS, OperationVisitor)
        } else {
            d.deserialize_enum("Operation", TAGS, OperationVisitor)
        }
    }
}

const FIELDS: &[&str] = &["op", "key", "value"];

#[derive(serde::Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Op,
    Key,
    Value,
}

/// Stores a field's value, refusing a second one.
fn once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

struct OperationVisitor;

impl<'de> Visitor<'de> for OperationVisitor {
    type Value = Operation;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an operation: {\"op\": name, \"key\": hex, \"value\": hex if it writes one}")
    }

    /// The text form: a map of named fields.
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Operation, A::Error> {
        let (mut tag, mut key, mut value) = (None, None, None);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Op => once(&mut tag, map.next_value::<Tag>()?, "op")?,
                Field::Key => once(&mut key, map.next_value::<ByteString>()?.0, "key")?,
                Field::Value => once(&mut value, map.next_value::<ByteString>()?.0, "value")?,
            }
        }
        let tag = tag.ok_or_else(|| de::Error::missing_field("op"))?;
        let key = key.ok_or_else(|| de::Error::missing_field("key"))?;
        tag.build(key, value)
    }

    /// The binary form: a variant, then its one or two byte strings.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Operation, A::Error> {
        let (tag, variant) = data.variant::<Tag>()?;
        if tag.has_value() {
            variant.tuple_variant(2, KeyValueVisitor(tag))
        } else {
            let ByteString(key) = variant.newtype_variant()?;
            tag.build(key, None)
        }
    }
}

/// The fields of a binary insert, update or upsert.
struct KeyValueVisitor(Tag);

impl<'de> Visitor<'de> for KeyValueVisitor {
    type Value = Operation;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the key and value of a `{}` operation", self.0.name())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Operation, A::Error> {
        let key = seq
            .next_element::<ByteString>()?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value = seq
            .next_element::<ByteString>()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        self.0.build(key.0, Some(value.0))
    }
}

/// An [`OpResult`] in the flat spelling: an [`Outcome`] as it serialises, or a failure.
struct FlatRef<'a>(&'a OpResult);

impl Serialize for FlatRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const NAME: &str = "OpResult";
        match self.0 {
            Ok(Outcome::Found(v)) => s.serialize_newtype_variant(NAME, 0, "found", &ByteStr(v)),
            Ok(Outcome::NotFound) => s.serialize_unit_variant(NAME, 1, "not_found"),
            Ok(Outcome::Inserted) => s.serialize_unit_variant(NAME, 2, "inserted"),
            Ok(Outcome::Updated) => s.serialize_unit_variant(NAME, 3, "updated"),
            Ok(Outcome::Removed) => s.serialize_unit_variant(NAME, 4, "removed"),
            Err(failure) => s.serialize_newtype_variant(NAME, 5, "failure", failure),
        }
    }
}

/// What [`FlatRef`] writes, read back.
#[derive(serde::Deserialize)]
#[serde(rename = "OpResult", rename_all = "snake_case")]
enum Flat {
    Found(#[serde(with = "crate::node::serde_bytes")] Bytes),
    NotFound,
    Inserted,
    Updated,
    Removed,
    Failure(Failure),
}

impl From<Flat> for OpResult {
    fn from(flat: Flat) -> OpResult {
        match flat {
            Flat::Found(v) => Ok(Outcome::Found(v)),
            Flat::NotFound => Ok(Outcome::NotFound),
            Flat::Inserted => Ok(Outcome::Inserted),
            Flat::Updated => Ok(Outcome::Updated),
            Flat::Removed => Ok(Outcome::Removed),
            Flat::Failure(failure) => Err(failure),
        }
    }
}

/// Feature `serde`: one [`OpResult`] in the fixtures' flat spelling, for
/// `#[serde(with = "avlplus::serde_result")]`.
///
/// [`OpResult`] is a `Result`, whose own serde form (serde's) is `{"Ok": outcome}` or
/// `{"Err": failure}`. This module writes the outcome as it is, or `{"failure": failure}`
/// (binary formats: the outcome's variant index, or 5 then the failure's):
///
/// ```
/// use avlplus::{Failure, OpResult, Outcome};
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Reply {
///     #[serde(with = "avlplus::serde_result")]
///     result: OpResult,
/// }
/// let found = Reply { result: Ok(Outcome::Found(b"1"[..].into())) };
/// assert_eq!(serde_json::to_string(&found)?, r#"{"result":{"found":"31"}}"#);
/// let failed = Reply { result: Err(Failure::KeyExists) };
/// let json = serde_json::to_string(&failed)?;
/// assert_eq!(json, r#"{"result":{"failure":"key_exists"}}"#);
/// assert_eq!(serde_json::from_str::<Reply>(&json)?, failed);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub mod serde_result {
    use super::{Deserialize, Deserializer, Flat, FlatRef, OpResult, Serialize, Serializer};

    /// Serialises `result` in the flat spelling.
    pub fn serialize<S: Serializer>(result: &OpResult, s: S) -> Result<S::Ok, S::Error> {
        FlatRef(result).serialize(s)
    }

    /// Deserialises the flat spelling.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OpResult, D::Error> {
        Flat::deserialize(d).map(OpResult::from)
    }
}

/// Feature `serde`: a sequence of [`OpResult`]s (a batch's results) in the flat spelling of
/// [`serde_result`], for `#[serde(with = "avlplus::serde_results")]` on a
/// `Vec<OpResult>`.
///
/// ```
/// use avlplus::{Failure, OpResult, Outcome};
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Block {
///     #[serde(with = "avlplus::serde_results")]
///     results: Vec<OpResult>,
/// }
/// let block = Block { results: vec![Ok(Outcome::Inserted), Err(Failure::KeyMissing)] };
/// let json = serde_json::to_string(&block)?;
/// assert_eq!(json, r#"{"results":["inserted",{"failure":"key_missing"}]}"#);
/// assert_eq!(serde_json::from_str::<Block>(&json)?.results, block.results);
/// # Ok::<(), serde_json::Error>(())
/// ```
pub mod serde_results {
    use super::{Deserialize, Deserializer, Flat, FlatRef, OpResult, Serializer, Vec};

    /// Serialises `results` as a sequence in the flat spelling.
    pub fn serialize<S: Serializer>(results: &[OpResult], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(results.iter().map(FlatRef))
    }

    /// Deserialises a sequence in the flat spelling.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OpResult>, D::Error> {
        let flat = Vec::<Flat>::deserialize(d)?;
        Ok(flat.into_iter().map(OpResult::from).collect())
    }
}
