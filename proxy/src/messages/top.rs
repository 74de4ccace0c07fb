//! The top-level members of a request body, each with the byte span of its value: what
//! request rewriting (prompt enrichment, field defaults and overrides) splices into.
//!
//! Owns: finding those spans with the same strict reader the guards use, so a body either
//! reads the same for both or is refused. Must not: decode values or edit the body.

use std::borrow::Cow;

use super::json::Reader;
use super::unescape;
use super::walk::WalkError;
use crate::error::Result;

/// One member of the top-level object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// The decoded key.
    pub key: Cow<'a, str>,
    /// Byte range of the value.
    pub value: (usize, usize),
}

/// The top-level object of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopLevel<'a> {
    /// Offset just past the opening `{`.
    pub inside: usize,
    /// Its members, in body order.
    pub members: Vec<Member<'a>>,
}

impl TopLevel<'_> {
    /// The member named `key`.
    pub fn get(&self, key: &str) -> Option<&Member<'_>> {
        self.members.iter().find(|m| m.key == key)
    }
}

/// Reads the top-level object of `body`; a body that is not one JSON object is refused with
/// the same words the guards' reader uses.
pub fn top_level(body: &str) -> Result<TopLevel<'_>> {
    read(body).map_err(|err| super::diagnose(body, err))
}

fn read(body: &str) -> Result<TopLevel<'_>, WalkError> {
    let mut reader = Reader::new(body);
    if reader.peek() != Some(b'{') {
        return Err(WalkError::NotObject);
    }
    reader.open()?;
    let inside = reader.pos();
    let mut members = Vec::new();
    let mut first = true;
    while let Some(key) = reader.next_key(first)? {
        first = false;
        reader.peek();
        let start = reader.pos();
        reader.skip()?;
        members.push(Member {
            key: unescape::text(body, key),
            value: (start, reader.pos()),
        });
    }
    reader.end()?;
    Ok(TopLevel { inside, members })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_carry_the_spans_of_their_values() {
        let body = r#" { "model" : "m", "messages":[ {"role":"user"} ] ,"n":1 } "#;
        let top = top_level(body).unwrap();
        let values: Vec<(&str, &str)> = top
            .members
            .iter()
            .map(|m| (m.key.as_ref(), &body[m.value.0..m.value.1]))
            .collect();
        assert_eq!(
            values,
            [
                ("model", r#""m""#),
                ("messages", r#"[ {"role":"user"} ]"#),
                ("n", "1")
            ]
        );
        assert_eq!(&body[top.inside - 1..top.inside], "{");
        assert!(top.get("messages").is_some());
    }

    #[test]
    fn what_is_not_one_object_is_refused() {
        for body in ["[]", r#"{"a":1,"a":2}"#, r#"{"a":1} x"#, r#"{"a":}"#] {
            assert!(top_level(body).is_err(), "{body}");
        }
    }
}
