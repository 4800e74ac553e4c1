//! Kafka's default principal of a client certificate: `User:` and the certificate subject's
//! distinguished name as Java's `X500Principal.getName()` writes it (RFC 2253): the last
//! relative name first, names separated by `,`, the values of a multi-valued one by `+`,
//! special characters escaped with `\`, the known attribute types by keyword (CN, C, L, ST,
//! O, OU, STREET, DC, UID), others by dotted OID with the value's DER in hex after `#`.

use x509_parser::x509::{AttributeTypeAndValue, X509Name};

use crate::session::Principal;

/// RFC 2253's keywords and their OIDs (dotted).
const KEYWORDS: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// The principal of the certificate `der`, or `None` when it cannot be parsed (rustls has
/// verified it already, so this does not happen with a trusted certificate).
pub fn principal_of_certificate(der: &[u8]) -> Option<Principal> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(Principal::user(distinguished_name(certificate.subject())))
}

/// The RFC 2253 string of a name.
pub fn distinguished_name(name: &X509Name<'_>) -> String {
    let relative_names: Vec<String> = name
        .iter()
        .map(|rdn| rdn.iter().map(attribute).collect::<Vec<_>>().join("+"))
        .collect();
    relative_names
        .into_iter()
        .rev()
        .collect::<Vec<_>>()
        .join(",")
}

fn attribute(attribute: &AttributeTypeAndValue<'_>) -> String {
    let oid = attribute.attr_type().to_id_string();
    let keyword = KEYWORDS.iter().find(|(dotted, _)| *dotted == oid);
    match (keyword, attribute.as_str()) {
        (Some((_, keyword)), Ok(value)) => format!("{keyword}={}", escape(value)),
        _ => format!("{oid}=#{}", der_hex(attribute)),
    }
}

/// Escapes a string value as RFC 2253 requires.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (index, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (index == 0 && matches!(c, '#' | ' '))
            || (index == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The value's DER encoding (tag, length, content) in lower-case hex.
fn der_hex(attribute: &AttributeTypeAndValue<'_>) -> String {
    let value = attribute.attr_value();
    let content = value.data;
    let mut der = Vec::with_capacity(content.len() + 6);
    // Attribute values are universal, single-byte tags.
    let constructed = if value.header.is_constructed() {
        0x20
    } else {
        0
    };
    der.push(u8::try_from(value.tag().0).unwrap_or(0) | constructed);
    match u8::try_from(content.len()) {
        Ok(short) if short < 0x80 => der.push(short),
        _ => {
            let length = content.len().to_be_bytes();
            let significant: Vec<u8> = length.into_iter().skip_while(|b| *b == 0).collect();
            der.push(0x80 | significant.len() as u8);
            der.extend(significant);
        }
    }
    der.extend_from_slice(content);
    der.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn certificate_with(subject: rcgen::DistinguishedName) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = subject;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_principal_is_the_subject_in_rfc_2253_order() {
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(rcgen::DnType::CountryName, "FR");
        subject.push(rcgen::DnType::OrganizationName, "Runnel");
        subject.push(rcgen::DnType::CommonName, "alice");
        let principal = principal_of_certificate(&certificate_with(subject)).unwrap();
        assert_eq!(principal.to_string(), "User:CN=alice,O=Runnel,C=FR");
        assert_eq!(principal.name(), "CN=alice,O=Runnel,C=FR");
    }

    #[test]
    fn special_characters_are_escaped_and_unknown_types_given_by_oid() {
        let mut subject = rcgen::DistinguishedName::new();
        subject.push(
            rcgen::DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            rcgen::DnValue::Ia5String("a@b.c".try_into().unwrap()),
        );
        subject.push(rcgen::DnType::CommonName, "Smith, John + co ");
        let principal = principal_of_certificate(&certificate_with(subject)).unwrap();
        assert_eq!(
            principal.name(),
            "CN=Smith\\, John \\+ co\\ ,1.2.840.113549.1.9.1=#16056140622e63"
        );
    }

    #[test]
    fn garbage_is_no_principal() {
        assert_eq!(principal_of_certificate(b"not a certificate"), None);
    }
}
