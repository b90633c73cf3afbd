import Foundation
@testable import IdaFormats
import IdaTestSupport
import Testing

/// `SafetensorsFile.releaseRows`, checked against the page tables (/proc/self/pagemap).
@Suite("Releasing mapped rows")
struct SafetensorsReleaseTests {
    /// How many pages of `bytes` are mapped into this process right now (pagemap's "present" bit).
    static func presentPages(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let base = bytes.baseAddress else { return 0 }
        let first = Int(bitPattern: base) / page, last = (Int(bitPattern: base) + bytes.count - 1) / page
        let fd = open("/proc/self/pagemap", O_RDONLY)
        guard fd >= 0 else { throw CocoaError(.fileReadNoPermission) }
        defer { close(fd) }
        var entries = [UInt64](repeating: 0, count: last - first + 1)
        let want = entries.count * 8
        let got = entries.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(first * 8)) }
        #expect(got == want)
        return entries.filter { $0 >> 63 == 1 }.count
    }

    @Test("reading a block maps its neighbours in (fault-around); releasing it unmaps those too, even neighbours released before")
    func releaseCoversFaultAround() throws {
        // 8 MiB of F16 rows of 128 bytes; a freshly written file is in the page cache, so a fault maps
        // cached pages around it as well (64 KiB of small pages, or a whole large folio).
        let rows = 65_536, width = 64, rowBytes = 128
        var writer = SafetensorsWriter()
        try writer.add("x", shape: [rows, width], float16From: [Float](repeating: 0.5, count: rows * width))
        let path = temporaryDirectory() + "/rows.safetensors"
        try writer.write(to: path)
        let file = try SafetensorsFile(path: path)
        let info = try #require(file.info("x"))
        let later = 32_768..<33_024, earlier = 32_512..<32_768  // 32 KiB each, in the middle
        // The pages within 1 MiB of the two blocks (opening the file touched its start, far away).
        let all = UnsafeRawBufferPointer(rebasing: file.rawBytes(info)[((earlier.lowerBound - 8_192) * rowBytes)..<((later.upperBound + 8_192) * rowBytes)])
        #expect(try Self.presentPages(all) == 0)
        // As two workers do: one converts and releases the later block, then the other the block before
        // it, whose faults map the later block's first pages in again.
        let values = try file.floatRows("x", rows: later)
        #expect(values.count == later.count * width && values.allSatisfy { $0 == 0.5 })
        #expect(try Self.presentPages(all) >= 8, "the block's own pages at least")
        file.releaseRows("x", rows: later)
        #expect(try Self.presentPages(all) == 0)
        _ = try file.floatRows("x", rows: earlier)
        file.releaseRows("x", rows: earlier)
        #expect(try Self.presentPages(all) == 0, "pages still mapped after both releases")
        // Releasing never changes what is read.
        #expect(try file.floatRows("x", rows: later) == values)
    }
}
