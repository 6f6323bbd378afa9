//! A client certificate's names as nats-server 2.9.10's `verify_and_map` reads them, and the
//! LDAP-style distinguished names it compares them with.
//!
//! nats-server looks a certificate's user up in this order (`checkClientTLSCertSubject`):
//! each email SAN, each DNS SAN, each URI SAN as a user name; then the subject as a DN
//! against every user name that parses as one (same RDNs in order, then in any order);
//! then the subject in Go's `pkix.Name` string form with the domain components appended;
//! then that form alone. [`CertificateNames`] holds those candidates; the lookup itself is
//! `Authenticator`'s.
//!
//! Go's string form (`Subject.ToRDNSequence().String()`) is not the subject as encoded: it
//! keeps only C, ST, L, STREET, POSTALCODE, O, OU, CN and SERIALNUMBER, grouped by type in
//! that order (several values of one type form one multi-valued RDN joined by `+`; CN and
//! SERIALNUMBER keep the last value), and prints the groups in reverse, RFC 2253 style:
//! `CN=alice,OU=eng,O=Acme,C=US`.

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::x509::AttributeTypeAndValue;

/// The attribute types nats-server's DN code knows, by OID, with their short names.
const ATTRIBUTE_NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
    ("0.9.2342.19200300.100.1.25", "DC"),
];

/// Go's `pkix.Name.ToRDNSequence` order (before `String` reverses it).
const SUBJECT_STRING_ORDER: &[&str] = &[
    "C",
    "ST",
    "L",
    "STREET",
    "POSTALCODE",
    "O",
    "OU",
    "CN",
    "SERIALNUMBER",
];

/// What `verify_and_map` may find a user by, in the order it tries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateNames {
    /// Email SANs, then DNS SANs, then URI SANs: each a user name to look up.
    pub alternative_names: Vec<String>,
    /// The subject as a DN; None when it has an attribute type outside [`ATTRIBUTE_NAMES`]
    /// (nats-server then skips the DN comparison).
    pub subject_dn: Option<Dn>,
    /// The subject in Go's string form plus `,DC=…` for each domain component, when there
    /// are any.
    pub subject_with_domain: Option<String>,
    /// The subject in Go's string form.
    pub subject: String,
}

impl CertificateNames {
    /// Reads a DER certificate. None when it does not parse, or has none of an email SAN, a
    /// URI SAN or a subject (nats-server refuses such a certificate, even with DNS SANs).
    pub fn read(der: &[u8]) -> Option<CertificateNames> {
        let (_, certificate) = X509Certificate::from_der(der).ok()?;
        let (mut emails, mut hosts, mut uris) = (Vec::new(), Vec::new(), Vec::new());
        if let Ok(Some(extension)) = certificate.subject_alternative_name() {
            for name in &extension.value.general_names {
                match name {
                    GeneralName::RFC822Name(email) => emails.push(email.to_string()),
                    GeneralName::DNSName(host) => hosts.push(host.to_string()),
                    GeneralName::URI(uri) => uris.push(uri.to_string()),
                    _ => {}
                }
            }
        }
        // The raw sequence of RDNs, each a list of (type name or OID, value).
        let rdns: Vec<Vec<(String, Option<String>)>> = certificate
            .subject()
            .iter()
            .map(|rdn| {
                rdn.iter()
                    .map(|attribute| (type_name(attribute), string_value(attribute)))
                    .collect()
            })
            .collect();
        let has_subject = rdns.iter().any(|rdn| !rdn.is_empty());
        if emails.is_empty() && uris.is_empty() && !has_subject {
            return None;
        }
        let subject = go_subject_string(&rdns);
        let domain: Vec<String> = rdns
            .iter()
            .flatten()
            .filter(|(name, _)| name == "DC")
            .filter_map(|(_, value)| value.as_ref().map(|value| format!("DC={value}")))
            .collect();
        let subject_with_domain =
            (!domain.is_empty()).then(|| format!("{subject},{}", domain.join(",")));
        let mut alternative_names = emails;
        alternative_names.append(&mut hosts);
        alternative_names.append(&mut uris);
        Some(CertificateNames {
            alternative_names,
            subject_dn: Dn::from_subject(&rdns),
            subject_with_domain,
            subject,
        })
    }
}

/// The short name of a known attribute type, else its dotted OID.
fn type_name(attribute: &AttributeTypeAndValue<'_>) -> String {
    let oid = attribute.attr_type().to_id_string();
    ATTRIBUTE_NAMES
        .iter()
        .find(|(known, _)| *known == oid)
        .map_or(oid, |(_, name)| name.to_string())
}

/// An attribute's value as Go's certificate parser reads it: the ASN.1 string types, BMP
/// as UTF-16; None for anything else.
fn string_value(attribute: &AttributeTypeAndValue<'_>) -> Option<String> {
    let value = attribute.attr_value();
    match value.tag() {
        Tag::BmpString => {
            let units: Vec<u16> = value
                .data
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        Tag::T61String => std::str::from_utf8(value.data).ok().map(str::to_string),
        _ => attribute.as_str().ok().map(str::to_string),
    }
}

/// Go's `cert.Subject.ToRDNSequence().String()` (see the module comment).
fn go_subject_string(rdns: &[Vec<(String, Option<String>)>]) -> String {
    let values = |wanted: &str| -> Vec<&str> {
        rdns.iter()
            .flatten()
            .filter(|(name, _)| name == wanted)
            .filter_map(|(_, value)| value.as_deref())
            .collect()
    };
    let mut groups: Vec<String> = Vec::new();
    for name in SUBJECT_STRING_ORDER {
        let mut found = values(name);
        if matches!(*name, "CN" | "SERIALNUMBER") && found.len() > 1 {
            // pkix.Name keeps one common name and serial number: the last.
            found = found.split_off(found.len() - 1);
        }
        if found.is_empty() {
            continue;
        }
        let group: Vec<String> = found
            .iter()
            .map(|value| format!("{name}={}", escape(value)))
            .collect();
        groups.push(group.join("+"));
    }
    groups.reverse();
    groups.join(",")
}

/// Go's RFC 2253 escaping in `RDNSequence.String`: `,+"\<>;` always, a space at either
/// end, a `#` at the start.
fn escape(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let last = value.len().saturating_sub(1);
    for (index, character) in value.char_indices() {
        let needs = match character {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => index == 0 || index == last,
            '#' => index == 0,
            _ => false,
        };
        if needs {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// A distinguished name as nats-server's LDAP code holds it: RDNs, most specific first,
/// each a set of (type, value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dn {
    rdns: Vec<Vec<(String, String)>>,
}

impl Dn {
    /// The certificate subject, most specific RDN first (the reverse of the encoding, and
    /// each RDN's attributes reversed too, as nats-server's `FromRawCertSubject`). None if
    /// a type is not one of [`ATTRIBUTE_NAMES`] or a value is not a string.
    fn from_subject(rdns: &[Vec<(String, Option<String>)>]) -> Option<Dn> {
        let mut dn = Vec::new();
        for rdn in rdns.iter().rev().filter(|rdn| !rdn.is_empty()) {
            let mut attributes = Vec::new();
            for (name, value) in rdn.iter().rev() {
                if !ATTRIBUTE_NAMES.iter().any(|(_, known)| known == name) {
                    return None;
                }
                attributes.push((name.clone(), value.clone()?));
            }
            dn.push(attributes);
        }
        Some(Dn { rdns: dn })
    }

    /// A user name read as an RFC 4514 DN (`CN=alice,O=Acme`), with nats-server's parser's
    /// rules: `\` escapes a special character or two hex digits, spaces before a type or
    /// value and unescaped trailing spaces are dropped, `+` joins attributes of one RDN.
    /// None for a name that is not a DN (no `=`, a `#` BER value, a bad escape).
    pub fn parse(text: &str) -> Option<Dn> {
        let bytes = text.as_bytes();
        let mut rdns = Vec::new();
        let mut rdn = Vec::new();
        let mut buffer: Vec<u8> = Vec::new();
        let mut kind: Option<String> = None;
        let mut trailing_spaces = 0;
        let mut escaping = false;
        let take = |buffer: &mut Vec<u8>, trailing: &mut usize| -> Option<String> {
            buffer.truncate(buffer.len() - *trailing);
            *trailing = 0;
            String::from_utf8(std::mem::take(buffer)).ok()
        };
        let mut index = 0;
        while index < bytes.len() {
            let byte = bytes[index];
            if escaping {
                trailing_spaces = 0;
                escaping = false;
                if b" \"#+,;<=>\\".contains(&byte) {
                    buffer.push(byte);
                } else {
                    let hex = text.get(index..index + 2)?;
                    buffer.push(u8::from_str_radix(hex, 16).ok()?);
                    index += 1;
                }
            } else {
                match byte {
                    b'\\' => {
                        trailing_spaces = 0;
                        escaping = true;
                    }
                    b'=' => {
                        kind = Some(take(&mut buffer, &mut trailing_spaces)?);
                        if bytes.get(index + 1) == Some(&b'#') {
                            return None;
                        }
                    }
                    b',' | b'+' => {
                        let name = kind.take().filter(|name| !name.is_empty())?;
                        rdn.push((name, take(&mut buffer, &mut trailing_spaces)?));
                        if byte == b',' {
                            rdns.push(std::mem::take(&mut rdn));
                        }
                    }
                    b' ' if buffer.is_empty() => {}
                    _ => {
                        trailing_spaces = if byte == b' ' { trailing_spaces + 1 } else { 0 };
                        buffer.push(byte);
                    }
                }
            }
            index += 1;
        }
        if !buffer.is_empty() {
            let name = kind.take().filter(|name| !name.is_empty())?;
            rdn.push((name, take(&mut buffer, &mut trailing_spaces)?));
            rdns.push(rdn);
        }
        Some(Dn { rdns })
    }

    /// Same RDNs in the same order (types compared without case, values exactly).
    pub fn equals(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self
                .rdns
                .iter()
                .zip(&other.rdns)
                .all(|(mine, theirs)| same_rdn(mine, theirs))
    }

    /// As many RDNs, each of ours found among the other's in any order (nats-server's
    /// `RDNsMatch`, for a DN written in the other direction).
    pub fn rdns_match(&self, other: &Dn) -> bool {
        self.rdns.len() == other.rdns.len()
            && self
                .rdns
                .iter()
                .all(|mine| other.rdns.iter().any(|theirs| same_rdn(mine, theirs)))
    }
}

fn same_rdn(left: &[(String, String)], right: &[(String, String)]) -> bool {
    let contains = |set: &[(String, String)], wanted: &(String, String)| {
        set.iter()
            .any(|(name, value)| name.eq_ignore_ascii_case(&wanted.0) && *value == wanted.1)
    };
    left.len() == right.len()
        && right.iter().all(|attribute| contains(left, attribute))
        && left.iter().all(|attribute| contains(right, attribute))
}

/// The key id `pinned_certs` lists name a certificate by: the SHA-256 of its DER
/// `SubjectPublicKeyInfo`, in lowercase hex (nats-server's `matchesPinnedCert`). `None`:
/// not a certificate.
pub fn pinned_key_id(der: &[u8]) -> Option<String> {
    use sha2::Digest;
    let (_, certificate) = X509Certificate::from_der(der).ok()?;
    let digest = sha2::Sha256::digest(certificate.tbs_certificate.subject_pki.raw);
    Some(digest.iter().map(|byte| format!("{byte:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(
        subject: &[(rcgen::DnType, &str)],
        names: Vec<rcgen::SanType>,
    ) -> CertificateNames {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.subject_alt_names = names;
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        CertificateNames::read(certificate.der()).expect("certificate with names")
    }

    #[test]
    fn subject_reads_as_go_prints_it() {
        use rcgen::DnType::*;
        // Encoded C, O, OU, CN; Go prints the groups in its own order, reversed.
        let names = certificate(
            &[
                (CountryName, "US"),
                (OrganizationName, "Acme, Inc."),
                (OrganizationalUnitName, "eng"),
                (CommonName, " alice#"),
            ],
            vec![],
        );
        assert_eq!(names.subject, r"CN=\ alice#,OU=eng,O=Acme\, Inc.,C=US");
        assert_eq!(names.subject_with_domain, None);
        // Encoded CN first, then a domain component: CN moves, DC only in the suffix.
        let dc = rcgen::DnType::CustomDnType(vec![0, 9, 2342, 19200300, 100, 1, 25]);
        let names = certificate(&[(CommonName, "bob"), (dc.clone(), "example")], vec![]);
        assert_eq!(names.subject, "CN=bob");
        assert_eq!(
            names.subject_with_domain.as_deref(),
            Some("CN=bob,DC=example")
        );
        assert_eq!(
            names.subject_dn,
            Dn::parse("DC=example,CN=bob"),
            "most specific (last encoded) first"
        );
    }

    #[test]
    fn alternative_names_come_emails_first() {
        let names = certificate(
            &[],
            vec![
                rcgen::SanType::DnsName("host.example".try_into().unwrap()),
                rcgen::SanType::Rfc822Name("a@example.com".try_into().unwrap()),
                rcgen::SanType::URI("nats://u".try_into().unwrap()),
            ],
        );
        assert_eq!(
            names.alternative_names,
            ["a@example.com", "host.example", "nats://u"]
        );
        assert_eq!(names.subject, "");
    }

    #[test]
    fn a_certificate_with_only_dns_names_names_no_one() {
        let mut params = rcgen::CertificateParams::new(vec!["h.example".to_string()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.self_signed(&key).unwrap();
        assert_eq!(CertificateNames::read(certificate.der()), None);
    }

    /// A DER certificate with this subject and these SANs.
    fn der(subject: &[(rcgen::DnType, &str)], names: Vec<rcgen::SanType>) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.subject_alt_names = names;
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn the_certificate_names_the_user_in_nats_servers_order() {
        use super::super::{AuthConfig, Authenticator, Credentials, User, Verdict};
        use rcgen::DnType::*;
        let users = [
            "host.example",
            "a@example.com",
            "O=Acme,CN=carol",
            "CN=dave",
        ]
        .iter()
        .map(|name| User {
            name: name.to_string(),
            password: Default::default(),
            account: None,
            permissions: None,
        })
        .collect();
        let config = AuthConfig {
            users,
            ..AuthConfig::default()
        };
        let auth = Authenticator::new(&config).unwrap();
        // Users without passwords: nats-server warns unless certificates name the users.
        assert!(auth.has_plaintext_passwords());
        let auth = auth.with_certificate_mapping(true);
        assert!(!auth.has_plaintext_passwords());
        let user_of = |certificate: &[u8], user: Option<&str>| {
            let credentials = Credentials {
                user,
                certificate: Some(certificate),
                ..Credentials::default()
            };
            match auth.verdict(&credentials, b"") {
                Verdict::Admit(identity) => Ok(identity.assumed_user.unwrap()),
                Verdict::Refuse(refusal) => Err(refusal.detail.unwrap()),
                Verdict::Check(_) => panic!("no bcrypt here"),
            }
        };
        let email = rcgen::SanType::Rfc822Name("a@example.com".try_into().unwrap());
        let host = rcgen::SanType::DnsName("host.example".try_into().unwrap());
        // Emails before DNS names, whatever the SAN order; the CONNECT's user is ignored.
        let both = der(&[(CommonName, "dave")], vec![host.clone(), email]);
        assert_eq!(
            user_of(&both, Some("CN=dave")).as_deref(),
            Ok("a@example.com")
        );
        let dns = der(&[(CommonName, "dave")], vec![host]);
        assert_eq!(user_of(&dns, None).as_deref(), Ok("host.example"));
        // The subject DN matches a user written in the other order.
        let carol = der(&[(CommonName, "carol"), (OrganizationName, "Acme")], vec![]);
        assert_eq!(user_of(&carol, None).as_deref(), Ok("O=Acme,CN=carol"));
        let dave = der(&[(CommonName, "dave")], vec![]);
        assert_eq!(user_of(&dave, None).as_deref(), Ok("CN=dave"));
        let nobody = der(
            &[(CommonName, "nobody"), (OrganizationName, "Acme")],
            vec![],
        );
        assert_eq!(
            user_of(&nobody, Some("CN=dave")),
            Err(r#"User in cert ["CN=nobody,O=Acme"], not found"#.to_string())
        );
        let credentials = Credentials::default();
        assert!(matches!(
            auth.verdict(&credentials, b""),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn dn_parsing_and_matching_follow_nats_servers_ldap_code() {
        let dn = Dn::parse("CN=alice, O=Acme\\, Inc.,DC=example+DC=org").unwrap();
        assert_eq!(
            dn.rdns,
            [
                vec![("CN".to_string(), "alice".to_string())],
                vec![("O".to_string(), "Acme, Inc.".to_string())],
                vec![
                    ("DC".to_string(), "example".to_string()),
                    ("DC".to_string(), "org".to_string())
                ],
            ]
        );
        assert_eq!(
            Dn::parse("cn=x\\41 ").unwrap().rdns,
            [vec![("cn".into(), "xA".into())]]
        );
        assert_eq!(Dn::parse("alice"), None);
        assert_eq!(Dn::parse("CN=#0c01"), None);
        assert_eq!(Dn::parse("CN=a\\4"), None, "an escape cut short");
        assert_eq!(
            Dn::parse("CN=a\\").unwrap().rdns,
            [vec![("CN".into(), "a".into())]]
        );
        let ordered = Dn::parse("CN=a,O=b").unwrap();
        let reversed = Dn::parse("O=b,cn=a").unwrap();
        assert!(ordered.equals(&Dn::parse("cn=a,O=b").unwrap()));
        assert!(!ordered.equals(&reversed));
        assert!(ordered.rdns_match(&reversed));
        assert!(!ordered.rdns_match(&Dn::parse("O=b,CN=c").unwrap()));
    }
}
