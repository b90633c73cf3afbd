import CVectorMath
import IdaSystem
extension SafetensorsFile {
    /// All elements of an F32, F16, BF16 or F64 tensor as `Float`, row-major (F64 rounds to nearest).
    public func floats(_ name: String) throws -> [Float] {
        let info = try require(name, dtypes: DType.floating)
        return convertFloats(info, elements: 0..<info.elementCount)
    }

    /// Rows `rows` of a floating-point tensor viewed as `[shape[0], rest...]`, row-major, as `Float`;
    /// reads only those rows, so big tensors can be streamed block by block.
    public func floatRows(_ name: String, rows: Range<Int>) throws -> [Float] {
        let info = try require(name, dtypes: DType.floating)
        guard let rowCount = info.shape.first, rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw SafetensorsError.rowsOutOfRange(path: path, tensor: name, rows: rows, shape: info.shape)
        }
        // The product cannot overflow: the whole shape's byte count was checked on open.
        let rowElements = info.shape.dropFirst().reduce(1, *)
        return convertFloats(info, elements: rows.lowerBound * rowElements..<rows.upperBound * rowElements)
    }

    /// Rows `rows` of an F32 tensor (viewed as `[shape[0], rest...]`) read in place from the mapping,
    /// when this host's `Float` is the stored bytes (little-endian) and they sit on a 4-byte boundary:
    /// `body` sees them without a copy and its result is returned. Nil, without calling `body`, for
    /// other dtypes or placements (`floatRows` converts those).
    public func withMappedFloatRows<R>(_ name: String, rows: Range<Int>,
                                       _ body: (UnsafeBufferPointer<Float>) throws -> R) throws -> R? {
        let info = try require(name, dtypes: DType.floating)
        guard let rowCount = info.shape.first, rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw SafetensorsError.rowsOutOfRange(path: path, tensor: name, rows: rows, shape: info.shape)
        }
        guard info.dtype == .f32, UInt32(1).littleEndian == 1 else { return nil }
        let raw = rawBytes(info)
        let rowElements = info.shape.dropFirst().reduce(1, *)
        guard let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
        let first = base.assumingMemoryBound(to: Float.self) + rows.lowerBound * rowElements
        return try body(UnsafeBufferPointer(start: first, count: rows.count * rowElements))
    }

    /// All elements of an F32, F16, BF16 or F64 tensor as `Double` (exact for every source dtype).
    public func doubles(_ name: String) throws -> [Double] {
        let info = try require(name, dtypes: DType.floating)
        let elements = 0..<info.elementCount
        switch info.dtype {
        case .f64: return convert(info, elements) { Double(bitPattern: $0.u64($1)) }
        case .f32: return convert(info, elements) { Double(Float(bitPattern: $0.u32($1))) }
        case .f16: return convert(info, elements) { Double(Half.float(fromF16: $0.u16($1))) }
        default: return convert(info, elements) { Double(Half.float(fromBF16: $0.u16($1))) }
        }
    }

    /// All elements of an I32, I64, U8 or BOOL tensor as `Int32`; I64 values outside `Int32`
    /// are an error, BOOL bytes other than 0 read as 1.
    public func int32s(_ name: String) throws -> [Int32] {
        let info = try require(name, dtypes: DType.integral)
        let elements = 0..<info.elementCount
        switch info.dtype {
        case .i32: return convert(info, elements) { Int32(bitPattern: $0.u32($1)) }
        case .u8: return convert(info, elements) { Int32($0.raw[$1]) }
        case .bool: return convert(info, elements) { $0.raw[$1] == 0 ? 0 : 1 }
        default:
            let wide = convert(info, elements) { Int64(bitPattern: $0.u64($1)) }
            var narrow: [Int32] = []
            narrow.reserveCapacity(wide.count)
            for (index, value) in wide.enumerated() {
                guard let exact = Int32(exactly: value) else {
                    throw SafetensorsError.valueOutOfRange(path: path, tensor: name, index: index, value: value)
                }
                narrow.append(exact)
            }
            return narrow
        }
    }

    /// The tensor named `name`, checked to have one of `dtypes`.
    private func require(_ name: String, dtypes: [DType]) throws(SafetensorsError) -> TensorInfo {
        let info = try require(name)
        guard dtypes.contains(info.dtype) else {
            throw .dtypeMismatch(path: path, tensor: name, found: info.dtype, expected: dtypes)
        }
        return info
    }

    private func convertFloats(_ info: TensorInfo, elements: Range<Int>) -> [Float] {
        switch info.dtype {
        case .f32 where UInt32(1).littleEndian == 1:
            // The stored little-endian bytes are this host's Float layout: one copy, any alignment.
            let raw = rawBytes(info)
            return [Float](unsafeUninitializedCapacity: elements.count) { buffer, count in
                if let destination = buffer.baseAddress, let source = raw.baseAddress, !elements.isEmpty {
                    UnsafeMutableRawPointer(destination).copyMemory(from: source + elements.lowerBound * 4,
                                                                    byteCount: elements.count * 4)
                }
                count = elements.count
            }
        case .f32: return convert(info, elements) { Float(bitPattern: $0.u32($1)) }
        case .f16, .bf16:
            // One vectorised C loop (CVectorMath) at the processor's widest level, exact like Half.float.
            let raw = rawBytes(info)
            let half = info.dtype == .f16
            return [Float](unsafeUninitializedCapacity: elements.count) { buffer, count in
                if let destination = buffer.baseAddress, let source = raw.baseAddress, !elements.isEmpty {
                    let start = source.assumingMemoryBound(to: UInt8.self) + 2 * elements.lowerBound
                    if half {
                        idamoe_f16_to_float_loop(VectorLevel.current.rawValue, start, destination, elements.count)
                    } else {
                        idamoe_bf16_to_float_loop(VectorLevel.current.rawValue, start, destination, elements.count)
                    }
                }
                count = elements.count
            }
        default: return convert(info, elements) { Float(Double(bitPattern: $0.u64($1))) }
        }
    }

    /// Applies `load(bytes, byteOffset)` to each element in `elements`; loads are unaligned-safe.
    private func convert<T>(_ info: TensorInfo, _ elements: Range<Int>,
                            _ load: (LittleEndianBytes, Int) -> T) -> [T] {
        let bytes = LittleEndianBytes(raw: rawBytes(info))
        let size = info.dtype.byteSize
        return [T](unsafeUninitializedCapacity: elements.count) { buffer, count in
            for (position, element) in elements.enumerated() {
                buffer.initializeElement(at: position, to: load(bytes, element * size))
            }
            count = elements.count
        }
    }
}
