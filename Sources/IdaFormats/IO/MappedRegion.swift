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
        let opened: (descriptor: Int32, size: Int)
        do {
            opened = try RegularFile.open(path)
        } catch {
            switch error {
            case let .unreadable(_, code): throw .io(path: path, operation: "open", errno: code)
            case .notRegular: throw .notRegularFile(path: path)
            }
        }
        let (fd, size) = opened
        defer { close(fd) }
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
