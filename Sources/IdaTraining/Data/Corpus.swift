import Foundation
import IdaFormats
import IdaRouting

/// A multi-domain text corpus: every file is one domain, its documents separated by lines holding `%`
/// (the fortune format; a file without such lines is one document per blank-line-separated paragraph).
public struct Corpus: Sendable, Equatable {
    /// One domain: a name (the file name) and its documents as bytes.
    public struct Domain: Sendable, Equatable {
        /// The file name the domain came from.
        public var name: String
        /// Documents, each a byte string without the separator lines.
        public var documents: [[UInt8]]
    }

    /// Domains in path order (files of a folder sorted by name).
    public var domains: [Domain]

    /// The largest corpus file read (whole, into memory).
    public static let fileLimit = 1 << 30

    /// Debian's fortunes folder, the default corpus.
    public static let defaultPath = TrainingOptions.defaultCorpus

    /// Domains built in memory.
    public init(domains: [Domain]) { self.domains = domains }

    /// Loads every text file under `paths` (files, or folders read one level deep). Files with NUL
    /// bytes (such as fortune's `.dat` indexes), `.dat` files and links to files already read are skipped.
    public init(paths: [String]) throws {
        var files: [String] = []
        var seen = Set<String>()
        let fm = FileManager.default
        for path in paths {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            let candidates: [String]
            if isDirectory.boolValue {
                let names = (try? fm.contentsOfDirectory(atPath: path)) ?? []
                // A folder's FIFOs, sockets and devices are not text: skipped unread (named alone, refused).
                candidates = names.sorted().map { (path as NSString).appendingPathComponent($0) }.filter(RegularFile.isRegular)
            } else {
                candidates = [path]
            }
            for file in candidates where !file.hasSuffix(".dat") {
                guard let resolved = realpath(file, nil) else { continue }
                let real = String(cString: resolved)
                free(resolved)
                var dir: ObjCBool = false
                guard fm.fileExists(atPath: real, isDirectory: &dir), !dir.boolValue, seen.insert(real).inserted else { continue }
                files.append(file)
            }
        }
        var domains: [Domain] = []
        for file in files {
            let bytes: [UInt8]
            do {
                bytes = try SmallFile.read(file, limit: Self.fileLimit)
            } catch {
                throw TrainingError.unreadable(path: file, reason: error.reason)
            }
            if bytes.contains(0) { continue }  // binary, not text
            let documents = Self.split(bytes)
            if documents.isEmpty { continue }
            domains.append(Domain(name: (file as NSString).lastPathComponent, documents: documents))
        }
        guard !domains.isEmpty else { throw TrainingError.corpusMissing(paths: paths) }
        self.domains = domains
    }

    /// Splits a file into documents at lines holding only `%`, dropping empty documents.
    static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var documents: [[UInt8]] = []
        var current: [UInt8] = []
        var lineStart = 0
        var sawSeparator = false
        var i = 0
        while i <= bytes.count {
            if i == bytes.count || bytes[i] == 0x0A {
                let line = bytes[lineStart..<i]
                let trimmed = line.last == 0x0D ? line.dropLast() : line
                if trimmed.count == 1 && trimmed.first == 0x25 {  // "%"
                    sawSeparator = true
                    if !current.isEmpty { documents.append(current) }
                    current = []
                } else if i < bytes.count || !line.isEmpty {
                    current.append(contentsOf: line)
                    if i < bytes.count { current.append(0x0A) }
                }
                lineStart = i + 1
            }
            i += 1
        }
        if current.contains(where: { $0 != 0x0A && $0 != 0x20 }) { documents.append(current) }
        if !sawSeparator && documents.count == 1 {
            return paragraphs(documents[0])
        }
        return documents.filter { doc in doc.contains { $0 != 0x0A && $0 != 0x20 } }
    }

    /// Blank-line-separated paragraphs of a text without `%` separators.
    static func paragraphs(_ text: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var current: [UInt8] = []
        var previousNewline = false
        for b in text {
            if b == 0x0A && previousNewline {
                if current.contains(where: { $0 != 0x0A && $0 != 0x20 }) { out.append(current) }
                current = []
                previousNewline = false
                continue
            }
            current.append(b)
            previousNewline = b == 0x0A
        }
        if current.contains(where: { $0 != 0x0A && $0 != 0x20 }) { out.append(current) }
        return out
    }

    /// Total bytes over all documents.
    public var byteCount: Int { domains.reduce(0) { $0 + $1.documents.reduce(0) { $0 + $1.count } } }
}
