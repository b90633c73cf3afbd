#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole regular file mapped read-only into memory; unmapped when the last reference goes.
///
/// The mapping is `MAP_PRIVATE`, but like every mmap it cannot protect against another
/// process truncating the file while it is mapped (pages past the new end fault with SIGBUS);
/// our own writers replace files by rename, which leaves existing mappings intact.
final class MappedRegion: @unchecked Sendable {
    /// The mapped bytes; immutable for the life of the object, so sharing across threads is safe.
    let bytes: UnsafeRawBufferPointer

    /// Maps `path`; files smaller than `minimumSize` bytes are rejected before mapping.
    init(path: String, minimumSize: Int) throws(SafetensorsError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .io(path: path, operation: "fstat", errno: errno) }
        // S_IFMT = 0o170000, S_IFREG = 0o100000 (POSIX values; the macros do not import into Swift).
        guard status.st_mode & 0o170000 == 0o100000 else { throw .notRegularFile(path: path) }
        let size = Int(status.st_size)
        guard size >= minimumSize, size > 0 else { throw .fileTooShort(path: path, size: size) }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, address != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw .io(path: path, operation: "mmap", errno: errno)
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }
}
