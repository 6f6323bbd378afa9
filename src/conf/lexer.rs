//! Config text → tokens, each with the line and column where it starts.
//!
//! The format (nats-server's) decides between "key" and "value" by position, so the lexer
//! keeps a stack of contexts (top level, map, array) and knows after each token what may
//! come next. It does not resolve variables, read includes or convert numbers: those are
//! the parser's; a size like `1MB` is returned as written.

/// Nesting of `{}` and `[]` the lexer accepts. Deeper input is refused with an error
/// instead of growing the context stack (and the parser's) without bound.
pub const NESTING_DEPTH_MAX: usize = 64;

/// What the lexer found.
#[derive(Clone, Debug, PartialEq)]
pub enum Token {
    /// A key, quotes removed.
    Key(String),
    /// `include PATH`: the path as written.
    Include(String),
    MapStart,
    MapEnd,
    ArrayStart,
    ArrayEnd,
    /// A quoted, raw (`'...'`), block (`(...)`) or unquoted string, escapes resolved.
    String(String),
    /// An integer as written: optional `-`, digits, optional size suffix (`64`, `-1`, `1MB`).
    Integer(String),
    /// A float as written (`0.5`).
    Float(String),
    /// `true`/`false`/`yes`/`no`/`on`/`off`, any case.
    Bool(bool),
    /// `$NAME` (the name without `$`).
    Variable(String),
    /// An ISO 8601 Zulu date-time, `YYYY-MM-DDTHH:MM:SSZ`.
    DateTime(String),
    Eof,
}

/// A token and where it starts (both 1-based; the column counts characters).
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned {
    pub token: Token,
    pub line: u32,
    pub column: u32,
}

/// Where and why lexing stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LexError {
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// Splits a whole config text into tokens, ending with [`Token::Eof`].
pub fn tokenize(text: &str) -> Result<Vec<Spanned>, LexError> {
    Lexer::new(text).run()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    Top,
    Map,
    Array,
}

/// What the lexer expects next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A key (or `include`, or the end of a map or of the file).
    Key,
    /// A value, after a key and its optional separator, or as an array element.
    Value,
    /// What may follow a value in the current context.
    AfterValue,
    /// An array element or the end of the array.
    ArrayItem,
}

struct Lexer {
    chars: Vec<char>,
    index: usize,
    line: u32,
    column: u32,
    contexts: Vec<Context>,
    /// Optional braces around the whole file (`{ port: 4222 }`), as nats-server allows.
    top_braces: u32,
    tokens: Vec<Spanned>,
}

impl Lexer {
    fn new(text: &str) -> Lexer {
        Lexer {
            chars: text.chars().collect(),
            index: 0,
            line: 1,
            column: 1,
            contexts: vec![Context::Top],
            top_braces: 0,
            tokens: Vec::new(),
        }
    }

    fn run(mut self) -> Result<Vec<Spanned>, LexError> {
        let mut state = State::Key;
        loop {
            state = match state {
                State::Key => match self.key()? {
                    Some(next) => next,
                    None => break,
                },
                State::Value => self.value()?,
                State::AfterValue => self.after_value()?,
                State::ArrayItem => self.array_item()?,
            };
        }
        let (line, column) = (self.line, self.column);
        self.tokens.push(Spanned {
            token: Token::Eof,
            line,
            column,
        });
        Ok(self.tokens)
    }

    // ---- characters -------------------------------------------------------------------

    fn peek(&self) -> Option<char> {
        self.chars.get(self.index).copied()
    }

    fn peek_second(&self) -> Option<char> {
        self.chars.get(self.index + 1).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.index += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, LexError> {
        Err(LexError {
            line: self.line,
            column: self.column,
            message: message.into(),
        })
    }

    fn emit(&mut self, token: Token, line: u32, column: u32) {
        self.tokens.push(Spanned {
            token,
            line,
            column,
        });
    }

    fn context(&self) -> Context {
        *self
            .contexts
            .last()
            .expect("the top-level context is never popped")
    }

    fn push_context(&mut self, context: Context) -> Result<(), LexError> {
        // The top level is not nesting: `len() - 1` levels are open.
        if self.contexts.len() > NESTING_DEPTH_MAX {
            return self.error(format!(
                "blocks and arrays nested deeper than {NESTING_DEPTH_MAX} levels"
            ));
        }
        self.contexts.push(context);
        Ok(())
    }

    fn pop_context(&mut self) {
        debug_assert!(self.contexts.len() > 1, "popping the top level");
        self.contexts.pop();
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// `#` or `//` starts a comment here.
    fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_second() == Some('/'),
            _ => false,
        }
    }

    /// Consumes a comment up to, not including, the end of its line.
    fn skip_comment(&mut self) {
        while self.peek().is_some_and(|c| !is_newline(c)) {
            self.bump();
        }
    }

    // ---- states -----------------------------------------------------------------------

    /// Returns `None` at the end of the file in the top-level context.
    fn key(&mut self) -> Result<Option<State>, LexError> {
        loop {
            self.skip_whitespace();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            let context = self.context();
            let (line, column) = (self.line, self.column);
            match (self.peek(), context) {
                (None, Context::Top) => {
                    if self.top_braces > 0 {
                        return self.error("unexpected end of file: a '}' is missing");
                    }
                    return Ok(None);
                }
                (None, _) => {
                    return self.error("unexpected end of file inside a map: a '}' is missing")
                }
                (Some('{'), Context::Top) => {
                    self.bump();
                    self.top_braces += 1;
                }
                (Some('}'), Context::Top) => {
                    if self.top_braces == 0 {
                        return self.error("unexpected '}'");
                    }
                    self.bump();
                    self.top_braces -= 1;
                }
                (Some('}'), _) => {
                    self.bump();
                    self.emit(Token::MapEnd, line, column);
                    self.pop_context();
                    return Ok(Some(State::AfterValue));
                }
                (Some(c @ (':' | '=')), _) => {
                    return self.error(format!("unexpected key separator '{c}' before a key"))
                }
                (Some(c @ (']' | ',' | ';')), _) => {
                    return self.error(format!("unexpected '{c}' where a key was expected"))
                }
                (Some(quote @ ('"' | '\'')), _) => {
                    self.bump();
                    let key = self.quoted_key(quote)?;
                    self.emit(Token::Key(key), line, column);
                    return self.separator().map(Some);
                }
                (Some(_), _) => return self.bare_key(line, column).map(Some),
            }
        }
    }

    fn quoted_key(&mut self, quote: char) -> Result<String, LexError> {
        let mut key = String::new();
        loop {
            match self.bump() {
                Some(c) if c == quote => return Ok(key),
                Some(c) => key.push(c),
                None => return self.error("unexpected end of file inside a quoted key"),
            }
        }
    }

    fn bare_key(&mut self, line: u32, column: u32) -> Result<State, LexError> {
        let mut key = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, ':' | '=' | '{' | '[') {
                break;
            }
            key.push(c);
            self.bump();
        }
        // `include PATH` (blank-separated) is a directive; `include: x` is a plain key.
        if key.eq_ignore_ascii_case("include") && self.peek().is_some_and(char::is_whitespace) {
            self.skip_blanks();
            if !matches!(self.peek(), Some(':' | '=')) {
                return self.include(line, column);
            }
        }
        self.emit(Token::Key(key), line, column);
        self.separator()
    }

    /// After a key: blanks (new lines too, so a `{` may open on the next line), an
    /// optional `:` or `=`, then the value.
    fn separator(&mut self) -> Result<State, LexError> {
        self.skip_whitespace();
        match self.peek() {
            Some(':' | '=') => {
                self.bump();
            }
            None => return self.error("a key without a value at the end of the file"),
            _ => {}
        }
        Ok(State::Value)
    }

    fn include(&mut self, line: u32, column: u32) -> Result<State, LexError> {
        let path = match self.peek() {
            Some(quote @ ('"' | '\'')) => {
                self.bump();
                let mut path = String::new();
                loop {
                    match self.bump() {
                        Some(c) if c == quote => break path,
                        Some(c) => path.push(c),
                        None => {
                            return self
                                .error("unexpected end of file inside a quoted include path")
                        }
                    }
                }
            }
            None => return self.error("include without a path at the end of the file"),
            Some(c) if is_newline(c) => {
                return self.error("include without a path before the new line")
            }
            Some(c @ ('[' | '{' | '(' | '-' | '\\' | '0'..='9')) => {
                return self.error(format!("an include path cannot start with '{c}'"))
            }
            Some(_) => {
                let mut path = String::new();
                while let Some(c) = self.peek() {
                    if c.is_whitespace() || matches!(c, ';' | '}') {
                        break;
                    }
                    path.push(c);
                    self.bump();
                }
                path
            }
        };
        self.emit(Token::Include(path), line, column);
        Ok(State::AfterValue)
    }

    fn value(&mut self) -> Result<State, LexError> {
        self.skip_blanks();
        let (line, column) = (self.line, self.column);
        let token = match self.peek() {
            None => return self.error("expected a value but found the end of the file"),
            Some(c) if is_newline(c) => return self.error("expected a value but found a new line"),
            Some(c @ (',' | ';' | '}' | ']')) => {
                return self.error(format!("expected a value but found '{c}'"))
            }
            Some('.') => return self.error("a number cannot start with '.'"),
            Some('[') => {
                self.bump();
                self.emit(Token::ArrayStart, line, column);
                self.push_context(Context::Array)?;
                return Ok(State::ArrayItem);
            }
            Some('{') => {
                self.bump();
                self.emit(Token::MapStart, line, column);
                self.push_context(Context::Map)?;
                return Ok(State::Key);
            }
            Some('\'') => {
                self.bump();
                self.raw_string()?
            }
            Some('"') => {
                self.bump();
                self.quoted_string()?
            }
            Some('(') => {
                self.bump();
                self.block()?
            }
            Some('-') => self.negative_number()?,
            Some(c) if c.is_ascii_digit() => self.number_or_string()?,
            Some(_) => self.unquoted(String::new())?,
        };
        self.emit(token, line, column);
        Ok(State::AfterValue)
    }

    fn array_item(&mut self) -> Result<State, LexError> {
        loop {
            self.skip_whitespace();
            if self.at_comment() {
                self.skip_comment();
                continue;
            }
            let (line, column) = (self.line, self.column);
            return match self.peek() {
                None => self.error("unexpected end of file inside an array: a ']' is missing"),
                Some(']') => {
                    self.bump();
                    self.emit(Token::ArrayEnd, line, column);
                    self.pop_context();
                    Ok(State::AfterValue)
                }
                Some(',') => self.error("unexpected ',' where an array element was expected"),
                Some(_) => Ok(State::Value),
            };
        }
    }

    fn after_value(&mut self) -> Result<State, LexError> {
        self.skip_blanks();
        let context = self.context();
        let next_item = if context == Context::Array {
            State::ArrayItem
        } else {
            State::Key
        };
        if self.at_comment() {
            self.skip_comment();
            return Ok(next_item);
        }
        let (line, column) = (self.line, self.column);
        match (self.peek(), context) {
            (None, _) => Ok(next_item),
            (Some(c), _) if is_newline(c) => {
                self.bump();
                Ok(next_item)
            }
            (Some(','), _) | (Some(';'), Context::Top | Context::Map) => {
                self.bump();
                Ok(next_item)
            }
            (Some('}'), Context::Map) => {
                self.bump();
                self.emit(Token::MapEnd, line, column);
                self.pop_context();
                Ok(State::AfterValue)
            }
            (Some('}'), Context::Top) if self.top_braces > 0 => {
                self.bump();
                self.top_braces -= 1;
                Ok(State::Key)
            }
            (Some(']'), Context::Array) => {
                self.bump();
                self.emit(Token::ArrayEnd, line, column);
                self.pop_context();
                Ok(State::AfterValue)
            }
            (Some(c), Context::Top) => self.error(format!(
                "expected a new line, ';', a comment or the end of the file after the value, \
                 but got '{}'",
                c.escape_debug()
            )),
            (Some(c), Context::Map) => self.error(format!(
                "expected ',', a new line or '}}' after the value in a map, but got '{}'",
                c.escape_debug()
            )),
            (Some(c), Context::Array) => self.error(format!(
                "expected ',', a new line or ']' after the array element, but got '{}'",
                c.escape_debug()
            )),
        }
    }

    // ---- values -----------------------------------------------------------------------

    /// `'...'`: no escapes.
    fn raw_string(&mut self) -> Result<Token, LexError> {
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('\'') => return Ok(Token::String(text)),
                Some(c) => text.push(c),
                None => return self.error("unexpected end of file inside a '...' string"),
            }
        }
    }

    /// `"..."`: escapes `\t \n \r \" \\ \xHH`.
    fn quoted_string(&mut self) -> Result<Token, LexError> {
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('"') => return Ok(Token::String(text)),
                Some('\\') => text.push(self.escape()?),
                Some(c) => text.push(c),
                None => return self.error("unexpected end of file inside a \"...\" string"),
            }
        }
    }

    /// The character after a `\` (already consumed).
    fn escape(&mut self) -> Result<char, LexError> {
        match self.bump() {
            Some('t') => Ok('\t'),
            Some('n') => Ok('\n'),
            Some('r') => Ok('\r'),
            Some('"') => Ok('"'),
            Some('\\') => Ok('\\'),
            Some('x') => {
                let high = self.bump().and_then(|c| c.to_digit(16));
                let low = self.bump().and_then(|c| c.to_digit(16));
                match (high, low) {
                    (Some(high), Some(low)) if high < 8 => Ok(char::from((high * 16 + low) as u8)),
                    (Some(_), Some(_)) => self.error("\\x escapes above \\x7f are not supported"),
                    _ => self.error("expected two hexadecimal digits after '\\x'"),
                }
            }
            Some(c) => self.error(format!(
                "invalid escape '\\{}': only \\t, \\n, \\r, \\\", \\\\ and \\xHH are allowed",
                c.escape_debug()
            )),
            None => self.error("unexpected end of file after '\\'"),
        }
    }

    /// `( ... )`: everything up to a line holding only `)`, the last new line included.
    fn block(&mut self) -> Result<Token, LexError> {
        let mut text = String::new();
        loop {
            match self.bump() {
                Some('\n')
                    if self.peek() == Some(')') && self.peek_second().is_none_or(|c| c == '\n') =>
                {
                    text.push('\n');
                    self.bump();
                    return Ok(Token::String(text));
                }
                Some(c) => text.push(c),
                None => return self.error("unexpected end of file inside a ( ... ) block"),
            }
        }
    }

    fn take_digits(&mut self, text: &mut String) {
        while let Some(c) = self.peek().filter(char::is_ascii_digit) {
            text.push(c);
            self.bump();
        }
    }

    /// After digits and a size letter (`k`, `m`, `g`, `t`, `p`, `e`): `b`/`i` letters.
    fn take_suffix(&mut self, text: &mut String) {
        while let Some(c) = self.peek().filter(|c| matches!(c, 'b' | 'B' | 'i' | 'I')) {
            text.push(c);
            self.bump();
        }
    }

    /// A value starting with a digit: integer (maybe with a size suffix), float, date-time,
    /// an address such as `127.0.0.1:4222`, or a string such as `10s`.
    fn number_or_string(&mut self) -> Result<Token, LexError> {
        let mut text = String::new();
        self.take_digits(&mut text);
        match self.peek() {
            Some('-') if text.len() == 4 => self.date_time(text),
            Some('-') => {
                self.error("a date must be in full ISO 8601 Zulu form (YYYY-MM-DDTHH:MM:SSZ)")
            }
            Some('.') => {
                text.push('.');
                self.bump();
                self.fraction_or_address(text)
            }
            Some(c) if is_size_letter(c) => {
                text.push(c);
                self.bump();
                self.take_suffix(&mut text);
                if self.peek().is_none_or(ends_unquoted) {
                    Ok(Token::Integer(text))
                } else {
                    self.unquoted(text)
                }
            }
            c if c.is_none_or(ends_unquoted) => Ok(Token::Integer(text)),
            _ => self.unquoted(text),
        }
    }

    /// After `digits.`: a float, or an address if a second `.` follows.
    fn fraction_or_address(&mut self, mut text: String) -> Result<Token, LexError> {
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return self.error("a float needs a digit after the '.'");
        }
        self.take_digits(&mut text);
        if self.peek() != Some('.') {
            return Ok(Token::Float(text));
        }
        while let Some(c) = self
            .peek()
            .filter(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '-'))
        {
            text.push(c);
            self.bump();
        }
        Ok(Token::String(text))
    }

    fn negative_number(&mut self) -> Result<Token, LexError> {
        let mut text = String::from('-');
        self.bump();
        if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            return self.error("expected a digit after '-'");
        }
        self.take_digits(&mut text);
        match self.peek() {
            Some('.') => {
                text.push('.');
                self.bump();
                if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    return self.error("a float needs a digit after the '.'");
                }
                self.take_digits(&mut text);
                Ok(Token::Float(text))
            }
            Some(c) if is_size_letter(c) => {
                text.push(c);
                self.bump();
                self.take_suffix(&mut text);
                Ok(Token::Integer(text))
            }
            _ => Ok(Token::Integer(text)),
        }
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`; the year has been read.
    fn date_time(&mut self, mut text: String) -> Result<Token, LexError> {
        const FORM: &str = "-00-00T00:00:00Z";
        for expected in FORM.chars() {
            match self.peek() {
                Some(c) if (expected == '0' && c.is_ascii_digit()) || c == expected => {
                    text.push(c);
                    self.bump();
                }
                _ => {
                    return self
                        .error("a date must be in full ISO 8601 Zulu form (YYYY-MM-DDTHH:MM:SSZ)")
                }
            }
        }
        Ok(Token::DateTime(text))
    }

    /// An unquoted string (`prefix` already read): up to a blank, a new line, `,`, `;`,
    /// `]` or `}`. Escapes work as in `"..."`. A bare `true`/`no`/... is a boolean and a
    /// leading `$` makes a variable reference, unless escapes were used.
    fn unquoted(&mut self, mut text: String) -> Result<Token, LexError> {
        let mut escaped = false;
        while let Some(c) = self.peek() {
            if ends_unquoted(c) {
                break;
            }
            self.bump();
            if c == '\\' {
                text.push(self.escape()?);
                escaped = true;
            } else {
                text.push(c);
            }
        }
        if escaped {
            return Ok(Token::String(text));
        }
        if let Some(value) = boolean(&text) {
            return Ok(Token::Bool(value));
        }
        if let Some(name) = text.strip_prefix('$') {
            return Ok(Token::Variable(name.to_string()));
        }
        Ok(Token::String(text))
    }
}

fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

fn is_size_letter(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

fn ends_unquoted(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | ',' | ';' | ']' | '}')
}

fn boolean(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tokens without positions, `Eof` dropped.
    fn check(text: &str, expected: &[Token]) {
        let tokens: Vec<Token> = tokenize(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
            .into_iter()
            .map(|s| s.token)
            .collect();
        assert_eq!(tokens.last(), Some(&Token::Eof), "{text:?}");
        assert_eq!(&tokens[..tokens.len() - 1], expected, "{text:?}");
    }

    fn check_error(text: &str, line: u32, column: u32, contains: &str) {
        let error = tokenize(text).expect_err(text);
        assert_eq!(
            (error.line, error.column),
            (line, column),
            "{text:?}: {error:?}"
        );
        assert!(error.message.contains(contains), "{text:?}: {error:?}");
    }

    fn key(k: &str) -> Token {
        Token::Key(k.into())
    }
    fn s(v: &str) -> Token {
        Token::String(v.into())
    }
    fn int(v: &str) -> Token {
        Token::Integer(v.into())
    }

    #[test]
    fn three_separators() {
        for text in [
            "port: 4222",
            "port = 4222",
            "port 4222",
            "port:4222",
            "port=4222",
            "port\t4222",
        ] {
            check(text, &[key("port"), int("4222")]);
        }
    }

    #[test]
    fn comments_of_both_kinds() {
        check(
            "# top\nport: 1 # after\n// slashes\nhost: h // after too\n  # indented\n",
            &[key("port"), int("1"), key("host"), s("h")],
        );
        check("a: x#y", &[key("a"), s("x#y")]);
    }

    #[test]
    fn values_end_with_new_line_or_semicolon_or_comma() {
        check(
            "a: 1; b: 2, c: 3\r\nd: 4",
            &[
                key("a"),
                int("1"),
                key("b"),
                int("2"),
                key("c"),
                int("3"),
                key("d"),
                int("4"),
            ],
        );
    }

    #[test]
    fn strings_quoted_raw_and_unquoted() {
        check(
            r#"a: "x y\t\"q\"\\ \x41""#,
            &[key("a"), s("x y\t\"q\"\\ A")],
        );
        check(r"a: 'c:\no escapes'", &[key("a"), s(r"c:\no escapes")]);
        check("a: hello-world.1", &[key("a"), s("hello-world.1")]);
        check("a: 10s", &[key("a"), s("10s")]);
        check("a: 127.0.0.1:4222", &[key("a"), s("127.0.0.1:4222")]);
        check("a: localhost:4222", &[key("a"), s("localhost:4222")]);
        check("a: \"\"", &[key("a"), s("")]);
        check(
            "\"quoted key\": 1\n'raw key' = 2",
            &[key("quoted key"), int("1"), key("raw key"), int("2")],
        );
    }

    #[test]
    fn numbers_floats_and_sizes() {
        check(
            "a: -1\nb: 0.5\nc: -2.25",
            &[
                key("a"),
                int("-1"),
                key("b"),
                Token::Float("0.5".into()),
                key("c"),
                Token::Float("-2.25".into()),
            ],
        );
        for size in [
            "1k", "1K", "64KB", "1kb", "2Ki", "3kib", "1MB", "1m", "1g", "1GB", "2T", "1p", "1e",
        ] {
            check(&format!("a: {size}"), &[key("a"), int(size)]);
        }
        // A size letter followed by more text is a plain string.
        check("a: 1mbx", &[key("a"), s("1mbx")]);
    }

    #[test]
    fn booleans_in_every_spelling() {
        for (word, value) in [
            ("true", true),
            ("TRUE", true),
            ("yes", true),
            ("on", true),
            ("false", false),
            ("No", false),
            ("off", false),
        ] {
            check(&format!("a: {word}"), &[key("a"), Token::Bool(value)]);
        }
        check("a: \"true\"", &[key("a"), s("true")]);
    }

    #[test]
    fn variables_and_includes() {
        check(
            "a: $FOO_bar",
            &[key("a"), Token::Variable("FOO_bar".into())],
        );
        check(
            "include ./other.conf\ninclude \"q x.conf\"\nINCLUDE 'r.conf'",
            &[
                Token::Include("./other.conf".into()),
                Token::Include("q x.conf".into()),
                Token::Include("r.conf".into()),
            ],
        );
        check("include: 5", &[key("include"), int("5")]);
        check(
            "m { include a.conf; b: 1 }",
            &[
                key("m"),
                Token::MapStart,
                Token::Include("a.conf".into()),
                key("b"),
                int("1"),
                Token::MapEnd,
            ],
        );
    }

    #[test]
    fn maps_and_arrays() {
        check(
            "authorization {\n  user: a, password: 'b'\n  inner { x = [1, 2,\n 3 # c\n] }\n}\n",
            &[
                key("authorization"),
                Token::MapStart,
                key("user"),
                s("a"),
                key("password"),
                s("b"),
                key("inner"),
                Token::MapStart,
                key("x"),
                Token::ArrayStart,
                int("1"),
                int("2"),
                int("3"),
                Token::ArrayEnd,
                Token::MapEnd,
                Token::MapEnd,
            ],
        );
        check(
            "a: [ {x: 1}, {y: [b, c]} ]",
            &[
                key("a"),
                Token::ArrayStart,
                Token::MapStart,
                key("x"),
                int("1"),
                Token::MapEnd,
                Token::MapStart,
                key("y"),
                Token::ArrayStart,
                s("b"),
                s("c"),
                Token::ArrayEnd,
                Token::MapEnd,
                Token::ArrayEnd,
            ],
        );
        check(
            "a: [1, 2,]",
            &[
                key("a"),
                Token::ArrayStart,
                int("1"),
                int("2"),
                Token::ArrayEnd,
            ],
        );
        check(
            "a: []\nb: {}",
            &[
                key("a"),
                Token::ArrayStart,
                Token::ArrayEnd,
                key("b"),
                Token::MapStart,
                Token::MapEnd,
            ],
        );
        check(
            "m\n{\n  a: 1\n}",
            &[key("m"), Token::MapStart, key("a"), int("1"), Token::MapEnd],
        );
        check(
            "m{a:1}",
            &[key("m"), Token::MapStart, key("a"), int("1"), Token::MapEnd],
        );
        check("{ a: 1, b: 2 }", &[key("a"), int("1"), key("b"), int("2")]);
    }

    #[test]
    fn date_time_and_block() {
        check(
            "a: 2024-01-02T03:04:05Z",
            &[key("a"), Token::DateTime("2024-01-02T03:04:05Z".into())],
        );
        check(
            "a: (\nline one\n  two)\n)\nb: 1",
            &[key("a"), s("\nline one\n  two)\n"), key("b"), int("1")],
        );
    }

    #[test]
    fn positions_are_line_and_column() {
        let tokens = tokenize("# c\n\nport: 4222\n  m {\n    x: 'y'\n  }\n").unwrap();
        let at: Vec<(u32, u32)> = tokens.iter().map(|t| (t.line, t.column)).collect();
        assert_eq!(
            at,
            [
                (3, 1),
                (3, 7),
                (4, 3),
                (4, 5),
                (5, 5),
                (5, 8),
                (6, 3),
                (7, 1)
            ]
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        check_error("port: 4222 x", 1, 12, "after the value");
        check_error("a: 1\nport:\n", 2, 6, "new line");
        check_error("a {\n b: 1\n", 3, 1, "'}' is missing");
        check_error("a: [1, 2\n", 2, 1, "']' is missing");
        check_error("a: [,]", 1, 5, "unexpected ','");
        check_error("a: \"open", 1, 9, "inside a \"...\" string");
        check_error("a: 'open", 1, 9, "'...' string");
        check_error("a: \"\\q\"", 1, 7, "invalid escape");
        check_error("a: \"\\xZZ\"", 1, 9, "hexadecimal");
        check_error("a: .5", 1, 4, "cannot start with '.'");
        check_error("a: 1.x", 1, 6, "digit after the '.'");
        check_error("a: -x", 1, 5, "digit after '-'");
        check_error("a: 12-3", 1, 6, "ISO 8601");
        check_error("a: 2024-01-0xT", 1, 13, "ISO 8601");
        check_error("\n\nport", 3, 5, "without a value");
        check_error("}", 1, 1, "unexpected '}'");
        check_error(": 1", 1, 1, "key separator");
        check_error("include\n", 1, 8, "");
        check_error("include  \n", 1, 10, "before the new line");
        check_error("include [a]", 1, 9, "cannot start with '['");
        check_error("m { a: 1 x }", 1, 10, "in a map");
        check_error("a: [1 x]", 1, 7, "after the array element");
        check_error("a: ,", 1, 4, "expected a value");
    }

    #[test]
    fn nesting_is_bounded() {
        let ok = format!(
            "a: {}{}",
            "[".repeat(NESTING_DEPTH_MAX),
            "]".repeat(NESTING_DEPTH_MAX)
        );
        tokenize(&ok).unwrap();
        let deep = format!(
            "a: {}{}",
            "[".repeat(NESTING_DEPTH_MAX + 1),
            "]".repeat(NESTING_DEPTH_MAX + 1)
        );
        let error = tokenize(&deep).unwrap_err();
        assert!(error.message.contains("nested deeper"), "{error:?}");
    }
}
