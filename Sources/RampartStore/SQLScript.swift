/// Splits a SQL script into statements, because PostgresNIO speaks only the extended protocol,
/// which takes one statement at a time.
///
/// Semicolons inside single-quoted strings, double-quoted identifiers, `--` and `/* */` comments
/// and dollar-quoted bodies (`$$ … $$`, `$tag$ … $tag$`) do not end a statement.
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0

        func flush() {
            let text = String(current).trimmingWhitespace()
            if !text.isEmpty && !text.allSatisfyComment { statements.append(text) }
            current = String.UnicodeScalarView()
        }
        func copy(until end: Int) {
            current.append(contentsOf: chars[i..<min(end, chars.count)])
            i = min(end, chars.count)
        }

        while i < chars.count {
            let c = chars[i]
            let next: Unicode.Scalar? = i + 1 < chars.count ? chars[i + 1] : nil
            switch c {
            case "'", "\"":
                var j = i + 1
                while j < chars.count {
                    if chars[j] == c {
                        if j + 1 < chars.count && chars[j + 1] == c { j += 2; continue }
                        break
                    }
                    j += 1
                }
                copy(until: j + 1)
            case "-" where next == "-":
                var j = i
                while j < chars.count && chars[j] != "\n" { j += 1 }
                copy(until: j)
            case "/" where next == "*":
                var j = i + 2
                while j + 1 < chars.count && !(chars[j] == "*" && chars[j + 1] == "/") { j += 1 }
                copy(until: j + 2)
            case "$":
                if let tagEnd = dollarTagEnd(chars, from: i) {
                    let tag = Array(chars[i...tagEnd])
                    var j = tagEnd + 1
                    while j < chars.count
                        && !(chars[j] == "$" && Array(chars[j..<min(j + tag.count, chars.count)]) == tag)
                    {
                        j += 1
                    }
                    copy(until: j + tag.count)
                } else {
                    copy(until: i + 1)
                }
            case ";":
                i += 1
                flush()
            default:
                copy(until: i + 1)
            }
        }
        flush()
        return statements
    }

    /// The index of the closing `$` of a dollar-quote tag starting at `start`, if one starts there.
    private static func dollarTagEnd(_ chars: [Unicode.Scalar], from start: Int) -> Int? {
        var j = start + 1
        while j < chars.count {
            let c = chars[j]
            if c == "$" { return j }
            let isTagChar =
                c == "_" || (c.properties.isAlphabetic && c.isASCII) || (j > start + 1 && ("0"..."9").contains(c))
            guard isTagChar else { return nil }
            j += 1
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars.drop { $0.properties.isWhitespace }.reversed().drop { $0.properties.isWhitespace }
        return String(String.UnicodeScalarView(scalars.reversed()))
    }

    /// True when every line is blank or a `--` comment.
    fileprivate var allSatisfyComment: Bool {
        split(separator: "\n").allSatisfy { line in
            let trimmed = String(line).trimmingWhitespace()
            return trimmed.isEmpty || trimmed.hasPrefix("--")
        }
    }
}
