//! Checks on SVG text shared by the plot tests.

/// Checks that tags nest and close, that every `&` starts an entity, and returns the
/// element names in document order.
pub fn well_formed(svg: &str) -> Vec<String> {
    let mut open: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        check_entities(&rest[..start]);
        let end = start + rest[start..].find('>').expect("tag ends");
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop().as_deref(), Some(name), "close tag {name}");
            continue;
        }
        assert!(!tag.contains('<'), "{tag}");
        check_entities(tag);
        assert_eq!(tag.matches('"').count() % 2, 0, "quotes in {tag}");
        let name: String = tag
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(!name.is_empty(), "{tag}");
        if names.is_empty() {
            assert_eq!(name, "svg");
        } else {
            assert!(!open.is_empty(), "{name} outside <svg>");
        }
        names.push(name.clone());
        if !tag.ends_with('/') {
            open.push(name);
        }
    }
    check_entities(rest);
    assert!(open.is_empty(), "unclosed {open:?}");
    assert!(rest.trim().is_empty());
    names
}

fn check_entities(text: &str) {
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
        let known = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"];
        assert!(known.contains(&entity), "bare & in {text}");
    }
}

/// The value of `attribute` in the first tag of `tag_text`.
pub fn attribute<'a>(tag_text: &'a str, attribute: &str) -> Option<&'a str> {
    let tag = &tag_text[..tag_text.find('>')?];
    let key = format!(" {attribute}=\"");
    let start = tag.find(&key)? + key.len();
    let end = start + tag[start..].find('"')?;
    Some(&tag[start..end])
}

/// Every `<polyline>` tag's text, in document order.
pub fn polylines(svg: &str) -> Vec<&str> {
    svg.match_indices("<polyline")
        .map(|(start, _)| &svg[start..start + svg[start..].find('>').expect("tag ends") + 1])
        .collect()
}

/// A polyline's points in SVG coordinates.
pub fn points(polyline: &str) -> Vec<(f64, f64)> {
    attribute(polyline, "points")
        .expect("points")
        .split(' ')
        .map(|pair| {
            let (x, y) = pair.split_once(',').expect("x,y");
            (x.parse().expect("x"), y.parse().expect("y"))
        })
        .collect()
}

/// The only polyline's points.
pub fn only_points(svg: &str) -> Vec<(f64, f64)> {
    let lines = polylines(svg);
    assert_eq!(lines.len(), 1, "{svg}");
    points(lines[0])
}
