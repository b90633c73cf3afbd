import Foundation
import SystemPackage

/// The one rule for a directory idamoe creates to write into (a run of `idamoe train` or `demo`,
/// `bench synth`'s output): a path that does not exist yet, or an existing empty directory. Anything
/// else (an empty path, `/`, a folder of someone's files, a file, a symbolic link) is refused before
/// a byte is written, so nothing a user wrote is mixed with or overwritten by a run
/// (docs/reliability.md, "Where a run may be written").
public enum NewDirectory {
    /// Why a directory cannot be written into.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The path is the empty string.
        case emptyPath
        /// An existing directory that holds entries.
        case notEmpty(path: String, entries: Int)
        /// The path exists and is not a directory (`kind` says what it is).
        case notADirectory(path: String, kind: String)
        /// A system call failed while checking or creating the directory.
        case system(path: String, operation: String, errno: Int32)

        /// One line for the user.
        public var description: String {
            switch self {
            case .emptyPath:
                return "the directory path is empty; name a new or empty directory"
            case let .notEmpty(path, entries):
                return "\(UntrustedText.shown(path)): exists and is not empty (\(entries) "
                    + (entries == 1 ? "entry" : "entries") + "); a new run needs a new or empty directory"
            case let .notADirectory(path, kind):
                return "\(UntrustedText.shown(path)): is \(kind), not a directory; name a new or empty directory"
            case let .system(path, operation, code):
                return "\(UntrustedText.shown(path)): cannot \(operation) (\(ErrorText.systemMessage(code)))"
            }
        }
    }

    /// Checks `path` against the rule and creates it (with missing parents) when it does not exist.
    /// Returns the path as a `FilePath`, lexically normalised, to join the files of the directory to.
    /// A directory created by someone else between the check and `mkdir` is checked again.
    @discardableResult
    public static func prepare(_ path: String) throws(Failure) -> FilePath {
        guard !path.isEmpty else { throw .emptyPath }
        let target = FilePath(path).lexicallyNormalized()
        if try check(target, path: path) { return target }
        let parent = target.removingLastComponent()
        if !parent.isEmpty, parent != target {
            do {
                try FileManager.default.createDirectory(atPath: parent.string, withIntermediateDirectories: true)
            } catch {
                let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code
                throw .system(path: parent.string, operation: "be created", errno: Int32(code ?? Int(EACCES)))
            }
        }
        if mkdir(target.string, 0o755) != 0 {
            let code = errno
            guard code == EEXIST else { throw .system(path: path, operation: "be created", errno: code) }
            _ = try check(target, path: path)  // created meanwhile: the same rule
        }
        return target
    }

    /// True when `target` is an existing empty directory, false when nothing is there; throws when
    /// something else is (checked with lstat, so a symbolic link is refused, not followed).
    private static func check(_ target: FilePath, path: String) throws(Failure) -> Bool {
        var status = stat()
        guard lstat(target.string, &status) == 0 else {
            let code = errno
            if code == ENOENT { return false }
            throw .system(path: path, operation: "be examined", errno: code)
        }
        guard status.st_mode & RegularFile.fileTypeMask == 0o040000 else {
            throw .notADirectory(path: path, kind: RegularFile.kind(ofMode: status.st_mode))
        }
        let entries = try entryCount(target.string, path: path)
        guard entries == 0 else { throw .notEmpty(path: path, entries: entries) }
        return true
    }

    /// Entries of directory `directory`, `.` and `..` excluded.
    public static func entryCount(_ directory: String, path: String? = nil) throws(Failure) -> Int {
        guard let stream = opendir(directory) else {
            throw .system(path: path ?? directory, operation: "be listed", errno: errno)
        }
        defer { closedir(stream) }
        var count = 0
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { count += 1 }
        }
        return count
    }
}
