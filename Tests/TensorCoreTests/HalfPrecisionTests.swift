import Testing
import TensorCore
import TestSupport

@Suite struct HalfPrecisionTests {
    @Test func everyHalfValueConvertsLikeSwift() {
        var mismatches = 0
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = floatFromHalfBits(bits)
            if expected.isNaN ? !actual.isNaN : actual.bitPattern != expected.bitPattern { mismatches += 1 }
            // Round trip: every half value survives Float and back (NaN payloads aside).
            if !expected.isNaN, halfBitsFromFloat(actual) != bits { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test func floatToHalfRoundsLikeSwift() {
        var random = TestRandom(seed: 18)
        var mismatches = 0
        for i in 0..<200_000 {
            // Magnitudes from subnormal half range to overflow.
            let scale = Float(1 << (i % 40)) / Float(1 << 26)
            let value = random.generator.nextNormal() * scale
            if halfBitsFromFloat(value) != Float16(value).bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(halfBitsFromFloat(.infinity) == 0x7C00)
        #expect(halfBitsFromFloat(70000) == 0x7C00)
        #expect(floatFromHalfBits(halfBitsFromFloat(.nan)).isNaN)
    }

    @Test func bfloat16RoundsToNearestEven() throws {
        #expect(floatFromBFloat16Bits(bfloat16BitsFromFloat(1)) == 1)
        // 1 + 2^-8 is exactly halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
        #expect(floatFromBFloat16Bits(bfloat16BitsFromFloat(1 + 1.0 / 256)) == 1)
        #expect(floatFromBFloat16Bits(bfloat16BitsFromFloat(1 + 3.0 / 256)) == 1 + 4.0 / 256)
        #expect(floatFromBFloat16Bits(bfloat16BitsFromFloat(.nan)).isNaN)
        let t = Tensor([0.5, -2, 3.140625])
        #expect(try Tensor(bfloat16Bits: t.bfloat16Bits(), shape: [3]) == t)
        #expect(try Tensor(float16Bits: t.float16Bits(), shape: [3]) == t)
        #expect(throws: TensorError.self) { try Tensor(float16Bits: [1, 2], shape: [3]) }
    }

    @Test func seededGeneratorIsReproducible() {
        var a = SeededGenerator(seed: 99), b = SeededGenerator(seed: 99)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
    }
}
