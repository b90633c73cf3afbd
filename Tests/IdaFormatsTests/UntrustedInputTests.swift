import Foundation
import IdaFormats
import IdaTestSupport
import Testing

/// The one sanitiser, the regular-file opener and the new-directory rule (docs/reliability.md).
@Suite("Untrusted input: text, special files, where runs are written")
struct UntrustedInputTests {
    @Test("escape sequences, NUL, C1 controls and bidi overrides are escaped; other text is untouched")
    func sanitiser() {
        #expect(UntrustedText.sanitized("plain · ünïcode 中文 \\ back") == "plain · ünïcode 中文 \\ back")
        #expect(UntrustedText.sanitized("\u{1B}[2J\u{1B}]0;owned\u{07}") == "\\u{1b}[2J\\u{1b}]0;owned\\u{7}")
        #expect(UntrustedText.sanitized("a\u{0}b\nc\td\u{7F}") == "a\\u{0}b\\u{a}c\\u{9}d\\u{7f}")
        #expect(UntrustedText.sanitized("\u{9B}31m") == "\\u{9b}31m")  // C1 CSI
        #expect(UntrustedText.sanitized("abc\u{202E}fed\u{2066}x\u{2069}") == "abc\\u{202e}fed\\u{2066}x\\u{2069}")
        #expect(UntrustedText.sanitized("\u{FEFF}\u{2028}") == "\\u{feff}\\u{2028}")
        let long = String(repeating: "x", count: 500)
        #expect(UntrustedText.shown(long) == String(repeating: "x", count: UntrustedText.shownLimit) + "...")
        #expect(UntrustedText.quoted("\u{1B}") == "'\\u{1b}'")
        // Whatever a string holds, nothing the sanitiser returns can drive a terminal.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let scalars = (0..<40).compactMap { _ in Unicode.Scalar(UInt32.random(in: 0...0x2100, using: &rng)) }
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars)
            #expect(!UntrustedText.sanitized(String(s)).unicodeScalars.contains(where: UntrustedText.needsEscape))
        }
    }

    @Test("a FIFO, a directory or a device is refused before a byte is read, without waiting")
    func specialFiles() throws {
        let dir = temporaryDirectory()
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        let started = Date()
        #expect(throws: RegularFile.Failure.notRegular(path: fifo, kind: "a FIFO")) { _ = try RegularFile.open(fifo) }
        #expect(throws: SmallFile.Failure.notRegular(path: fifo, kind: "a FIFO")) { _ = try SmallFile.read(fifo) }
        #expect(throws: SafetensorsError.notRegularFile(path: fifo)) { _ = try SafetensorsFile(path: fifo) }
        var reader = EventLogReader<EventRecord>(path: fifo)
        #expect(throws: EventLogError.notRegular(path: fifo, kind: "a FIFO")) { _ = try reader.readNew() }
        #expect(throws: RegularFile.Failure.notRegular(path: dir, kind: "a directory")) { _ = try RegularFile.open(dir) }
        #expect(throws: RegularFile.Failure.notRegular(path: "/dev/zero", kind: "a character device")) {
            _ = try RegularFile.open("/dev/zero")
        }
        #expect(Date().timeIntervalSince(started) < 5, "nothing waited for a writer")
        let file = dir + "/plain"
        try Data("abc".utf8).write(to: URL(fileURLWithPath: file))
        let opened = try RegularFile.open(file)
        defer { close(opened.descriptor) }
        #expect(opened.size == 3)
        #expect(fcntl(opened.descriptor, F_GETFL) & O_NONBLOCK == 0, "handed back in blocking mode")
    }

    @Test("a new directory: a path that does not exist or an empty directory; nothing else is touched")
    func newDirectoryRule() throws {
        let dir = temporaryDirectory()
        #expect(throws: NewDirectory.Failure.emptyPath) { try NewDirectory.prepare("") }
        #expect(throws: NewDirectory.Failure.notEmpty(path: "/", entries: try NewDirectory.entryCount("/"))) {
            try NewDirectory.prepare("/")
        }
        let busy = dir + "/busy"
        try FileManager.default.createDirectory(atPath: busy, withIntermediateDirectories: true)
        try Data("mine".utf8).write(to: URL(fileURLWithPath: busy + "/notes.txt"))
        #expect(throws: NewDirectory.Failure.notEmpty(path: busy, entries: 1)) { try NewDirectory.prepare(busy) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: busy) == ["notes.txt"])
        #expect(throws: NewDirectory.Failure.notADirectory(path: busy + "/notes.txt", kind: "a regular file")) {
            try NewDirectory.prepare(busy + "/notes.txt")
        }
        let link = dir + "/link"
        let empty = dir + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(symlink(empty, link) == 0)
        #expect(throws: NewDirectory.Failure.notADirectory(path: link, kind: "a symbolic link")) { try NewDirectory.prepare(link) }
        #expect(try NewDirectory.prepare(empty).string == empty)
        let fresh = dir + "/a/b/run/"
        #expect(try NewDirectory.prepare(fresh).string == dir + "/a/b/run")
        #expect(try NewDirectory.entryCount(dir + "/a/b/run") == 0)
    }
}
