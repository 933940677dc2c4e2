//! The part of the Dockerfile language that shakedown's recipes use, read into [`Instruction`]s
//! for the one-container build (`one_container.rs`). Anything outside it (another instruction,
//! a flag such as `COPY --chown`, a heredoc, a second `FROM`) is [`Unsupported`]: that recipe is
//! built by `docker build` instead, so no recipe is ever built wrong, only more slowly.

/// One instruction, after line continuations are joined and comments dropped. Variables are
/// not expanded here (see [`expand`]): what they expand to depends on the instructions before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Instruction {
    /// `ARG NAME[=default]`.
    Arg(String, Option<String>),
    /// `FROM image` (not expanded).
    From(String),
    /// `RUN command` (shell form: run by `/bin/sh -c`).
    Run(String),
    /// `COPY src... dst` (not expanded).
    Copy(Vec<String>, String),
    /// `ENV K=V ...` or `ENV K V` (not expanded).
    Env(Vec<(String, String)>),
    /// `LABEL K=V ...` (not expanded).
    Label(Vec<(String, String)>),
    /// `USER name` (not expanded).
    User(String),
    /// `WORKDIR path` (not expanded).
    Workdir(String),
    /// `EXPOSE port[/proto] ...` (not expanded).
    Expose(Vec<String>),
    /// `STOPSIGNAL signal` (not expanded).
    StopSignal(String),
    /// `CMD`, exec form or shell form (`/bin/sh -c ...`).
    Cmd(Vec<String>),
    /// `ENTRYPOINT`, exec form or shell form.
    Entrypoint(Vec<String>),
}

/// Why a Dockerfile is left to `docker build`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unsupported(pub(crate) String);

/// Reads a Dockerfile: one `FROM`, then only the instructions [`Instruction`] lists.
pub(crate) fn parse(text: &str) -> Result<Vec<Instruction>, Unsupported> {
    let mut out = Vec::new();
    let mut froms = 0;
    for line in logical_lines(text) {
        let (word, rest) = match line.split_once(char::is_whitespace) {
            Some((w, r)) => (w, r.trim()),
            None => (line.as_str(), ""),
        };
        let keyword = word.to_ascii_uppercase();
        if rest.starts_with("--") || rest.starts_with("<<") {
            return Err(Unsupported(format!(
                "`{keyword} {rest}` (a flag or heredoc)"
            )));
        }
        let ins = match keyword.as_str() {
            "ARG" => match rest.split_once('=') {
                Some((k, v)) => Instruction::Arg(k.into(), Some(unquote(v))),
                None => Instruction::Arg(rest.into(), None),
            },
            "FROM" => {
                froms += 1;
                if froms > 1 || rest.contains(char::is_whitespace) {
                    return Err(Unsupported("more than one `FROM`, or `FROM ... AS`".into()));
                }
                Instruction::From(rest.into())
            }
            "RUN" if !rest.starts_with('[') => Instruction::Run(rest.into()),
            "COPY" => {
                let mut words = words(rest)?;
                let Some(dst) = words.pop().filter(|_| !words.is_empty()) else {
                    return Err(Unsupported(format!(
                        "`COPY {rest}` needs a source and a destination"
                    )));
                };
                Instruction::Copy(words, dst)
            }
            "ENV" => Instruction::Env(pairs(rest, true)?),
            "LABEL" => Instruction::Label(pairs(rest, false)?),
            "USER" => Instruction::User(rest.into()),
            "WORKDIR" => Instruction::Workdir(rest.into()),
            "EXPOSE" => Instruction::Expose(words(rest)?),
            "STOPSIGNAL" => Instruction::StopSignal(rest.into()),
            "CMD" => Instruction::Cmd(command(rest)?),
            "ENTRYPOINT" => Instruction::Entrypoint(command(rest)?),
            _ => return Err(Unsupported(format!("the instruction `{word}`"))),
        };
        if froms == 0 && !matches!(ins, Instruction::Arg(..) | Instruction::From(_)) {
            return Err(Unsupported(format!("`{keyword}` before `FROM`")));
        }
        out.push(ins);
    }
    if froms == 0 {
        return Err(Unsupported("no `FROM`".into()));
    }
    Ok(out)
}

/// Expands `$NAME` and `${NAME}` from `vars` (unset names expand to nothing, as in Docker);
/// `\$` is a literal `$`.
pub(crate) fn expand(text: &str, vars: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'$') => {
                out.push('$');
                chars.next();
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                out.push_str(&vars(&name).unwrap_or_default());
            }
            '$' if chars
                .peek()
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') =>
            {
                let mut name = String::new();
                while let Some(&c) = chars
                    .peek()
                    .filter(|c| c.is_ascii_alphanumeric() || **c == '_')
                {
                    name.push(c);
                    chars.next();
                }
                out.push_str(&vars(&name).unwrap_or_default());
            }
            c => out.push(c),
        }
    }
    out
}

/// Lines with `\` continuations joined, comments and blank lines dropped.
fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                lines.push(std::mem::take(&mut current).trim().to_string());
            }
        }
    }
    if !current.trim().is_empty() {
        lines.push(current.trim().to_string());
    }
    lines.retain(|l| !l.is_empty());
    lines
}

/// Whitespace-separated words, each maybe double-quoted.
fn words(text: &str) -> Result<Vec<String>, Unsupported> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => word.extend(chars.next()),
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err(Unsupported(format!("an unclosed quote in `{text}`")));
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// `K=V K2="v 2"`; with `legacy`, also `ENV K the rest of the line`.
fn pairs(text: &str, legacy: bool) -> Result<Vec<(String, String)>, Unsupported> {
    let first = text.split_whitespace().next().unwrap_or_default();
    if legacy && !first.contains('=') {
        let value = text[first.len()..].trim();
        return Ok(vec![(first.to_string(), value.to_string())]);
    }
    words(text)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Unsupported(format!("`{w}` is not KEY=value"))),
        })
        .collect()
}

/// Exec form (a JSON array of strings) or shell form.
fn command(text: &str) -> Result<Vec<String>, Unsupported> {
    if text.starts_with('[') {
        serde_json::from_str(text)
            .map_err(|e| Unsupported(format!("`{text}` is not a JSON array of strings: {e}")))
    } else {
        Ok(vec!["/bin/sh".into(), "-c".into(), text.into()])
    }
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::Instruction::*;
    use super::*;

    #[test]
    fn reads_every_instruction_the_recipes_use() {
        let text = "# a comment\nARG BASE=debian:trixie-slim\nFROM ${BASE}\nARG PG_MAJOR=17\n\
            RUN apt-get update \\\n && apt-get install -y \\\n      x y\n\
            COPY a.conf /etc/a.conf\nENV LANG=C.UTF-8 \\\n    HOME=/var/lib/x \\\n    P=\"a b\"\n\
            ENV OLD legacy form\nUSER postgres\nWORKDIR /w\nEXPOSE 5672 15672/tcp\n\
            STOPSIGNAL SIGINT\nLABEL a=b \"c\"=\"d e\"\nCMD [\"rabbitmq-server\", \"-x\"]\n\
            ENTRYPOINT exec thing\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                Arg("BASE".into(), Some("debian:trixie-slim".into())),
                From("${BASE}".into()),
                Arg("PG_MAJOR".into(), Some("17".into())),
                Run("apt-get update  && apt-get install -y  x y".into()),
                Copy(vec!["a.conf".into()], "/etc/a.conf".into()),
                Env(vec![
                    ("LANG".into(), "C.UTF-8".into()),
                    ("HOME".into(), "/var/lib/x".into()),
                    ("P".into(), "a b".into()),
                ]),
                Env(vec![("OLD".into(), "legacy form".into())]),
                User("postgres".into()),
                Workdir("/w".into()),
                Expose(vec!["5672".into(), "15672/tcp".into()]),
                StopSignal("SIGINT".into()),
                Label(vec![("a".into(), "b".into()), ("c".into(), "d e".into())]),
                Cmd(vec!["rabbitmq-server".into(), "-x".into()]),
                Entrypoint(vec!["/bin/sh".into(), "-c".into(), "exec thing".into()]),
            ]
        );
    }

    #[test]
    fn what_it_does_not_know_is_left_to_docker_build() {
        for text in [
            "FROM a\nCOPY --chown=x:y a /a\n",
            "FROM a\nADD x /x\n",
            "FROM a AS b\nRUN x\n",
            "FROM a\nFROM b\n",
            "FROM a\nRUN [\"exec\", \"form\"]\n",
            "FROM a\nRUN <<EOF\nx\nEOF\n",
            "FROM a\nHEALTHCHECK CMD true\n",
            "RUN x\n",
            "ARG X=1\n",
            "FROM a\nCMD [\"unclosed\"\n",
            "FROM a\nENV A=1 B\n",
            "FROM a\nCOPY onlyone\n",
        ] {
            assert!(parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn expands_variables_as_docker_does() {
        let vars = |n: &str| match n {
            "PG_MAJOR" => Some("17".to_string()),
            "HOME" => Some("/h".to_string()),
            _ => None,
        };
        assert_eq!(
            expand("/usr/lib/postgresql/${PG_MAJOR}/bin:$HOME/x:$UNSET.", &vars),
            "/usr/lib/postgresql/17/bin:/h/x:."
        );
        assert_eq!(expand(r"cost \$5 ${HOME}", &vars), "cost $5 /h");
    }
}
