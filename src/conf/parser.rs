//! Tokens → a tree of values, each node with the file, line and column it came from.
//!
//! Here `include` directives are read (relative to the including file's directory) and
//! merged into the block that holds them, `$NAME` references are resolved (keys defined
//! earlier in the enclosing blocks, innermost first, then the environment), and integers
//! are converted, size suffix included. A key given twice keeps the later value.
//! Nothing here knows what a key means: that is [`super::mapping`]'s job.

use super::lexer::{self, Spanned, Token};
use super::{Diagnostic, Pos};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How deep includes (and environment values that refer to other variables) may nest.
/// Deeper is refused with an error: it is almost always an include cycle.
pub const INCLUDE_DEPTH_MAX: usize = 16;

/// A parsed value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    /// `YYYY-MM-DDTHH:MM:SSZ`, as written; no key of ours takes one.
    DateTime(String),
    Array(Vec<Node>),
    Map(Map),
}

impl Value {
    /// The value's type and, for scalars, the value itself, for error messages.
    pub fn describe(&self) -> String {
        match self {
            Value::String(s) => format!("the string {s:?}"),
            Value::Integer(n) => format!("the integer {n}"),
            Value::Float(f) => format!("the float {f}"),
            Value::Bool(b) => format!("the boolean {b}"),
            Value::DateTime(d) => format!("the date {d}"),
            Value::Array(_) => "an array".to_string(),
            Value::Map(_) => "a block".to_string(),
        }
    }
}

/// A value and where it was written (for a `$NAME` reference: where the reference is).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

/// One `key: value` of a block.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub node: Node,
    /// Some `$key` referred to it; nats-server does not report such a top-level key as
    /// unknown, since it is a variable definition.
    pub used_as_variable: bool,
}

/// A block (`{ ... }` or the whole file): entries in the order they were last set.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<Entry>,
}

impl Map {
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|entry| &entry.node)
    }

    /// A key set again replaces the earlier value and moves to the end, so that walking
    /// the entries applies settings in the order the file last gave them.
    fn insert(&mut self, entry: Entry) {
        self.entries.retain(|e| e.key != entry.key);
        self.entries.push(entry);
    }

    fn entry_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }
}

/// Where `$NAME` looks after the enclosing blocks. A parameter so that tests need not
/// change the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Parses the file at `path` (includes relative to its directory).
pub fn parse_file(path: &Path, env: EnvLookup<'_>) -> Result<Map, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|error| Diagnostic {
        pos: None,
        message: format!("cannot read config file {}: {error}", path.display()),
    })?;
    parse_text(&text, path, 0, env)
}

/// Parses `text` as if it were the file `file` (which need not exist; includes are read
/// relative to its directory).
pub fn parse_str(text: &str, file: &Path, env: EnvLookup<'_>) -> Result<Map, Diagnostic> {
    parse_text(text, file, 0, env)
}

fn parse_text(
    text: &str,
    file: &Path,
    depth: usize,
    env: EnvLookup<'_>,
) -> Result<Map, Diagnostic> {
    let file: Arc<Path> = Arc::from(file);
    let tokens = lexer::tokenize(text).map_err(|error| Diagnostic {
        pos: Some(Pos {
            file: Arc::clone(&file),
            line: error.line,
            column: error.column,
        }),
        message: error.message,
    })?;
    let parser = Parser {
        dir: file.parent().map(Path::to_path_buf).unwrap_or_default(),
        stack: vec![Frame::Map {
            map: Map::default(),
            key: None,
            pos: Pos {
                file: Arc::clone(&file),
                line: 1,
                column: 1,
            },
        }],
        file,
        depth,
        env,
    };
    parser.run(tokens)
}

/// A block or array being filled.
enum Frame {
    Map {
        map: Map,
        /// The key whose value comes next.
        key: Option<(String, Pos)>,
        pos: Pos,
    },
    Array {
        items: Vec<Node>,
        pos: Pos,
    },
}

struct Parser<'a> {
    file: Arc<Path>,
    /// Includes are relative to this.
    dir: PathBuf,
    depth: usize,
    env: EnvLookup<'a>,
    /// The root block first; the innermost open block or array last.
    stack: Vec<Frame>,
}

impl Parser<'_> {
    fn run(mut self, tokens: Vec<Spanned>) -> Result<Map, Diagnostic> {
        for spanned in tokens {
            let pos = self.pos(&spanned);
            let value = match spanned.token {
                Token::Eof => break,
                Token::Key(key) => {
                    match self.stack.last_mut() {
                        Some(Frame::Map { key: slot, .. }) => *slot = Some((key, pos)),
                        _ => unreachable!("the lexer emits keys only in blocks"),
                    }
                    continue;
                }
                Token::Include(path) => {
                    self.include(&path, &pos)?;
                    continue;
                }
                Token::MapStart => {
                    self.stack.push(Frame::Map {
                        map: Map::default(),
                        key: None,
                        pos,
                    });
                    continue;
                }
                Token::ArrayStart => {
                    self.stack.push(Frame::Array {
                        items: Vec::new(),
                        pos,
                    });
                    continue;
                }
                Token::MapEnd | Token::ArrayEnd => match self.stack.pop() {
                    Some(Frame::Map { map, pos, .. }) => Node {
                        value: Value::Map(map),
                        pos,
                    },
                    Some(Frame::Array { items, pos }) => Node {
                        value: Value::Array(items),
                        pos,
                    },
                    None => unreachable!("the lexer balances blocks and arrays"),
                },
                Token::String(s) => Node {
                    value: Value::String(s),
                    pos,
                },
                Token::Integer(text) => {
                    let value = integer(&text).map_err(|message| Diagnostic {
                        pos: Some(pos.clone()),
                        message,
                    })?;
                    Node {
                        value: Value::Integer(value),
                        pos,
                    }
                }
                Token::Float(text) => {
                    let value = text.parse::<f64>().map_err(|_| Diagnostic {
                        pos: Some(pos.clone()),
                        message: format!("expected a float, got '{text}'"),
                    })?;
                    Node {
                        value: Value::Float(value),
                        pos,
                    }
                }
                Token::Bool(b) => Node {
                    value: Value::Bool(b),
                    pos,
                },
                Token::DateTime(d) => Node {
                    value: Value::DateTime(d),
                    pos,
                },
                Token::Variable(name) => self.variable(&name, pos)?,
            };
            self.set_value(value);
        }
        debug_assert_eq!(self.stack.len(), 1, "the lexer balances blocks and arrays");
        match self.stack.pop() {
            Some(Frame::Map { map, .. }) => Ok(map),
            _ => unreachable!("the root frame is a block"),
        }
    }

    fn pos(&self, spanned: &Spanned) -> Pos {
        Pos {
            file: Arc::clone(&self.file),
            line: spanned.line,
            column: spanned.column,
        }
    }

    fn set_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(Frame::Array { items, .. }) => items.push(node),
            Some(Frame::Map { map, key, .. }) => {
                let (key, key_pos) = key.take().expect("the lexer puts a key before each value");
                map.insert(Entry {
                    key,
                    key_pos,
                    node,
                    used_as_variable: false,
                });
            }
            None => unreachable!("the root frame stays until the end"),
        }
    }

    /// Reads an included file and merges its top-level keys into the current block.
    fn include(&mut self, path: &str, pos: &Pos) -> Result<(), Diagnostic> {
        if self.depth >= INCLUDE_DEPTH_MAX {
            return Err(Diagnostic {
                pos: Some(pos.clone()),
                message: format!(
                    "include '{path}': includes nested deeper than {INCLUDE_DEPTH_MAX} \
                     levels (an include cycle?)"
                ),
            });
        }
        let resolved = self.dir.join(path);
        let text = std::fs::read_to_string(&resolved).map_err(|error| Diagnostic {
            pos: Some(pos.clone()),
            message: format!("cannot read include file {}: {error}", resolved.display()),
        })?;
        let included = parse_text(&text, &resolved, self.depth + 1, self.env)?;
        match self.stack.last_mut() {
            Some(Frame::Map { map, .. }) => {
                for entry in included.entries {
                    map.insert(entry);
                }
            }
            _ => unreachable!("the lexer emits include only in blocks"),
        }
        Ok(())
    }

    /// `$name`: a key set earlier in an enclosing block (innermost first), else the
    /// environment variable, whose text is parsed as a value.
    fn variable(&mut self, name: &str, pos: Pos) -> Result<Node, Diagnostic> {
        // A bcrypt hash (`$2a$11$...`) left unquoted is a string, not a reference.
        if name.starts_with("2a$") {
            return Ok(Node {
                value: Value::String(format!("${name}")),
                pos,
            });
        }
        for frame in self.stack.iter_mut().rev() {
            if let Frame::Map { map, .. } = frame {
                if let Some(entry) = map.entry_mut(name) {
                    entry.used_as_variable = true;
                    return Ok(Node {
                        value: entry.node.value.clone(),
                        pos,
                    });
                }
            }
        }
        let Some(text) = (self.env)(name) else {
            return Err(Diagnostic {
                pos: Some(pos),
                message: format!(
                    "variable reference for '{name}' can not be found (no earlier key \
                     and no environment variable of that name)"
                ),
            });
        };
        self.environment_value(name, &text, pos)
    }

    /// Parses an environment variable's text as a value (so `4222` is an integer and
    /// `1MB` a size), as nats-server does.
    fn environment_value(&self, name: &str, text: &str, pos: Pos) -> Result<Node, Diagnostic> {
        if self.depth >= INCLUDE_DEPTH_MAX {
            return Err(Diagnostic {
                pos: Some(pos),
                message: format!(
                    "variable reference for '{name}': environment values refer to each \
                     other deeper than {INCLUDE_DEPTH_MAX} levels"
                ),
            });
        }
        let source = PathBuf::from(format!("${name}"));
        let parsed = parse_text(&format!("value={text}"), &source, self.depth + 1, self.env)
            .map_err(|inner| Diagnostic {
                pos: Some(pos.clone()),
                message: format!(
                    "variable reference for '{name}': the environment value cannot be \
                     parsed: {inner}"
                ),
            })?;
        match parsed.entries.into_iter().find(|e| e.key == "value") {
            Some(entry) => Ok(Node {
                value: entry.node.value,
                pos,
            }),
            None => Err(Diagnostic {
                pos: Some(pos),
                message: format!("variable reference for '{name}': the environment value is empty"),
            }),
        }
    }
}

/// `64`, `-1`, `1MB`: digits and a size suffix. As in nats-server, a bare letter is a
/// power of 1000 (`k`, `m`, `g`, `t`, `p`, `e`) and a letter followed by `b`, `i` or `ib`
/// is a power of 1024 (`64KB` = 65536, `1MiB` = 1048576), in any case.
pub fn integer(text: &str) -> Result<i64, String> {
    let digits_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    let out_of_range = || format!("integer '{text}' is out of range");
    let number: i64 = digits.parse().map_err(|_| out_of_range())?;
    let suffix = suffix.to_ascii_lowercase();
    let multiplier: i64 = match suffix.as_str() {
        "" => 1,
        "k" => 1_000,
        "m" => 1_000_000,
        "g" => 1_000_000_000,
        "t" => 1_000_000_000_000,
        "p" => 1_000_000_000_000_000,
        "e" => 1_000_000_000_000_000_000,
        "kb" | "ki" | "kib" => 1 << 10,
        "mb" | "mi" | "mib" => 1 << 20,
        "gb" | "gi" | "gib" => 1 << 30,
        "tb" | "ti" | "tib" => 1 << 40,
        "pb" | "pi" | "pib" => 1 << 50,
        "eb" | "ei" | "eib" => 1 << 60,
        _ => return Err(format!("invalid size suffix '{suffix}' in '{text}'")),
    };
    number.checked_mul(multiplier).ok_or_else(out_of_range)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse(text: &str) -> Map {
        parse_str(text, Path::new("t.conf"), &no_env).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn error(text: &str) -> String {
        parse_str(text, Path::new("t.conf"), &no_env)
            .expect_err(text)
            .to_string()
    }

    fn value(map: &Map, key: &str) -> Value {
        map.get(key)
            .unwrap_or_else(|| panic!("no key {key}"))
            .value
            .clone()
    }

    /// A scratch directory of its own per test, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("ringmq-conf-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn scalars_of_every_type() {
        let map = parse(
            "s: hello\nq: \"a b\"\nr: 'c'\ni: 42\nn: -7\nf: 0.5\nb: yes\nd: 2024-01-02T03:04:05Z\n",
        );
        assert_eq!(value(&map, "s"), Value::String("hello".into()));
        assert_eq!(value(&map, "q"), Value::String("a b".into()));
        assert_eq!(value(&map, "r"), Value::String("c".into()));
        assert_eq!(value(&map, "i"), Value::Integer(42));
        assert_eq!(value(&map, "n"), Value::Integer(-7));
        assert_eq!(value(&map, "f"), Value::Float(0.5));
        assert_eq!(value(&map, "b"), Value::Bool(true));
        assert_eq!(
            value(&map, "d"),
            Value::DateTime("2024-01-02T03:04:05Z".into())
        );
    }

    #[test]
    fn size_suffixes_follow_nats_server() {
        for (text, expected) in [
            ("1k", 1_000),
            ("1K", 1_000),
            ("1kb", 1_024),
            ("64KB", 65_536),
            ("2Ki", 2_048),
            ("1KiB", 1_024),
            ("1m", 1_000_000),
            ("1MB", 1_048_576),
            ("1mib", 1_048_576),
            ("1g", 1_000_000_000),
            ("1GB", 1_073_741_824),
            ("2t", 2_000_000_000_000),
            ("1TB", 1 << 40),
            ("1p", 1_000_000_000_000_000),
            ("1PB", 1 << 50),
            ("1e", 1_000_000_000_000_000_000),
            ("1EB", 1 << 60),
            ("-1k", -1_000),
        ] {
            assert_eq!(integer(text), Ok(expected), "{text}");
            let map = parse(&format!("x: {text}"));
            assert_eq!(value(&map, "x"), Value::Integer(expected), "{text}");
        }
        assert_eq!(
            integer("8EB"),
            Err("integer '8EB' is out of range".to_string())
        );
        assert_eq!(
            integer("99999999999999999999"),
            Err("integer '99999999999999999999' is out of range".to_string())
        );
        assert_eq!(
            integer("1kbb"),
            Err("invalid size suffix 'kbb' in '1kbb'".to_string())
        );
        assert_eq!(
            error("a: 1\nx: 16EB"),
            "t.conf:2:4: integer '16EB' is out of range"
        );
    }

    #[test]
    fn blocks_and_arrays_nest_with_positions() {
        let map = parse("m {\n  a: 1\n  list: [x, {y: 2}]\n}\n");
        let Value::Map(inner) = value(&map, "m") else {
            panic!("not a block")
        };
        let node = inner.get("a").unwrap();
        assert_eq!((node.pos.line, node.pos.column), (2, 6));
        assert_eq!(inner.entries()[0].key_pos.to_string(), "t.conf:2:3");
        let Value::Array(items) = value(&inner, "list") else {
            panic!("not an array")
        };
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].value, Value::String("x".into()));
        let Value::Map(y) = &items[1].value else {
            panic!("not a block")
        };
        assert_eq!(y.get("y").unwrap().value, Value::Integer(2));
        assert_eq!(map.get("m").unwrap().pos.to_string(), "t.conf:1:3");
    }

    #[test]
    fn later_keys_replace_earlier_ones() {
        let map = parse("a: 1\nb: 2\na: 3\n");
        let keys: Vec<&str> = map.entries().iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(value(&map, "a"), Value::Integer(3));
        assert_eq!(map.get("a").unwrap().pos.line, 3);
    }

    #[test]
    fn variables_from_earlier_keys_innermost_first() {
        let map =
            parse("size = 100\nmax_payload: $size\nm { size: 5, inner: $size }\nouter: $size\n");
        assert_eq!(value(&map, "max_payload"), Value::Integer(100));
        assert_eq!(
            map.get("max_payload").unwrap().pos.to_string(),
            "t.conf:2:14"
        );
        let Value::Map(m) = value(&map, "m") else {
            panic!()
        };
        assert_eq!(value(&m, "inner"), Value::Integer(5));
        assert_eq!(value(&map, "outer"), Value::Integer(100));
        let size = map.entries().iter().find(|e| e.key == "size").unwrap();
        assert!(size.used_as_variable);
        let unused = map.entries().iter().find(|e| e.key == "outer").unwrap();
        assert!(!unused.used_as_variable);
        // A block can be referred to as a whole.
        let map = parse("base { a: 1 }\ncopy: $base\n");
        assert_eq!(value(&map, "copy"), value(&map, "base"));
    }

    #[test]
    fn variables_from_the_environment_are_parsed_as_values() {
        let vars: HashMap<&str, &str> = [
            ("PORT", "4333"),
            ("SIZE", "2MB"),
            ("NAME", "\"edge one\""),
            ("SPACED", "edge one"),
            ("FLAG", "true"),
            ("INDIRECT", "$PORT"),
            ("LOOP", "$LOOP"),
            ("BAD", "[1,"),
        ]
        .into_iter()
        .collect();
        let env = |name: &str| vars.get(name).map(|v| v.to_string());
        let parse_env = |text: &str| parse_str(text, Path::new("e.conf"), &env);
        let map = parse_env("p: $PORT\ns: $SIZE\nn: $NAME\nf: $FLAG\ni: $INDIRECT\n").unwrap();
        assert_eq!(value(&map, "p"), Value::Integer(4333));
        assert_eq!(value(&map, "s"), Value::Integer(2 * 1024 * 1024));
        assert_eq!(value(&map, "n"), Value::String("edge one".into()));
        assert_eq!(value(&map, "f"), Value::Bool(true));
        assert_eq!(value(&map, "i"), Value::Integer(4333));
        assert_eq!(map.get("p").unwrap().pos.to_string(), "e.conf:1:4");
        // An earlier key shadows the environment.
        let map = parse_env("PORT: 1\np: $PORT\n").unwrap();
        assert_eq!(value(&map, "p"), Value::Integer(1));
        let looped = parse_env("x: $LOOP").unwrap_err().to_string();
        assert!(
            looped.starts_with("e.conf:1:4: variable reference for 'LOOP'"),
            "{looped}"
        );
        assert!(looped.contains("deeper than 16"), "{looped}");
        // As in nats-server, the text is parsed as a value: an unquoted space ends it.
        let spaced = parse_env("x: $SPACED").unwrap_err().to_string();
        assert!(spaced.contains("but got 'o'"), "{spaced}");
        let bad = parse_env("\nx: $BAD").unwrap_err().to_string();
        assert!(
            bad.starts_with(
                "e.conf:2:4: variable reference for 'BAD': the environment value cannot be parsed"
            ),
            "{bad}"
        );
    }

    #[test]
    fn unknown_variables_and_bcrypt_hashes() {
        assert_eq!(
            error("a: 1\nport: $NOPE"),
            "t.conf:2:7: variable reference for 'NOPE' can not be found (no earlier key and \
             no environment variable of that name)"
        );
        // A key defined later is not visible yet.
        assert!(error("a: $b\nb: 1").starts_with("t.conf:1:4: variable reference for 'b'"));
        let map = parse("password: $2a$11$abcdef");
        assert_eq!(
            value(&map, "password"),
            Value::String("$2a$11$abcdef".into())
        );
    }

    #[test]
    fn includes_are_relative_to_the_including_file() {
        let scratch = Scratch::new("include");
        scratch.write("sub/limits.conf", "max_payload: 64KB\ninclude more.conf\n");
        scratch.write("sub/more.conf", "ping_max: 3\n");
        scratch.write("auth.conf", "user: a\n");
        let main = scratch.write(
            "main.conf",
            "port: 4222\ninclude ./sub/limits.conf\nblock {\n  include 'auth.conf'\n}\nmax_payload: 1k\n",
        );
        let map = parse_file(&main, &no_env).unwrap();
        assert_eq!(value(&map, "max_payload"), Value::Integer(1000));
        assert_eq!(value(&map, "ping_max"), Value::Integer(3));
        let ping_max = map.get("ping_max").unwrap();
        assert_eq!(
            ping_max.pos.file.as_ref(),
            scratch.0.join("sub/./more.conf").as_path()
        );
        assert_eq!(ping_max.pos.line, 1);
        let Value::Map(block) = value(&map, "block") else {
            panic!()
        };
        assert_eq!(value(&block, "user"), Value::String("a".into()));
    }

    #[test]
    fn include_errors_name_the_file_and_line() {
        let scratch = Scratch::new("include-errors");
        scratch.write("bad.conf", "a: 1\nb: [\n");
        let main = scratch.write("main.conf", "x: 1\ninclude bad.conf\n");
        let message = parse_file(&main, &no_env).unwrap_err().to_string();
        assert_eq!(
            message,
            format!(
                "{}:3:1: unexpected end of file inside an array: a ']' is missing",
                scratch.0.join("bad.conf").display()
            )
        );
        let missing = scratch.write("missing.conf", "\n include nope.conf\n");
        let message = parse_file(&missing, &no_env).unwrap_err().to_string();
        let prefix = format!(
            "{}:2:2: cannot read include file {}: ",
            missing.display(),
            scratch.0.join("nope.conf").display()
        );
        assert!(message.starts_with(&prefix), "{message}");
        let cycle = scratch.write("cycle.conf", "include cycle.conf\n");
        let message = parse_file(&cycle, &no_env).unwrap_err().to_string();
        assert!(
            message.contains("nested deeper than 16 levels (an include cycle?)"),
            "{message}"
        );
        let message = parse_file(&scratch.0.join("absent.conf"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(message.starts_with("cannot read config file "), "{message}");
    }

    #[test]
    fn lexer_errors_carry_the_file() {
        assert_eq!(
            error("port: 4222\nhost: a b\n"),
            "t.conf:2:9: expected a new line, ';', a comment or the end of the file after \
             the value, but got 'b'"
        );
    }

    mod never_panics {
        use super::*;
        use proptest::prelude::*;

        /// Text made mostly of the format's own characters, so that the lexer's states
        /// and the parser's frames are all reached.
        fn config_text() -> impl Strategy<Value = String> {
            let piece = prop_oneof![
                Just("a".to_string()),
                Just("include".to_string()),
                Just("$a".to_string()),
                Just("$2a$1".to_string()),
                Just("1MB".to_string()),
                Just("-3".to_string()),
                Just("0.5".to_string()),
                Just("1.2.3.4:5".to_string()),
                Just("2024-01-02T03:04:05Z".to_string()),
                Just("true".to_string()),
                Just("\\x41".to_string()),
                r#"[ \t\n\r:=,;{}\[\]"'#/()\\.$0-9a-z-]"#,
            ];
            proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn on_any_text(text in config_text()) {
                let env = |name: &str| (name == "a").then(|| "[1, {b: x}]".to_string());
                // Includes resolve under a directory that does not exist: nothing real is read.
                let _ = parse_str(&text, Path::new("/nonexistent-ringmq-conf/p.conf"), &env);
            }
        }
    }
}
