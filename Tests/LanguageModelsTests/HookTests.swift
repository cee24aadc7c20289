// Hooks on the real model: identity replacement changes nothing, patching behaves as predicted.

import Foundation
import Testing
import TensorCore
import LanguageModels
import TestSupport

@Suite struct HookTests {
    @Test func replacingEveryActivationByItselfIsBitIdentical() throws {
        let loaded = try SharedModel.get()
        let tokens = try loaded.tokenize("The capital of Texas is")
        let clean = try loaded.model.forward([tokens], logits: .all).logits
        let identity: Hook = { _, value in value = Tensor(validating: value) }
        var hooks = [HookPoint: Hook]()
        for point in loaded.model.hookPoints { hooks[point] = identity }
        let hooked = try loaded.model.forward([tokens], cache: .all, hooks: hooks, logits: .all)
        #expect(hooked.logits.scalars == clean.scalars)
        #expect(hooked.cache.points == loaded.model.hookPoints)
        #expect(loaded.model.hookPoints.count == 3 + 15 * 30)
        #expect(hooked.cache[.attnPattern(layer: 3)]!.shape == [1, 9, tokens.count, tokens.count])
        #expect(hooked.cache[.mlpNormScale(layer: 0)]!.shape == [1, tokens.count])
        #expect(hooked.cache[.attnZ(layer: 3)]!.shape == [1, tokens.count, 9 * 64])
        #expect(HookPoint.attnZ(layer: 2).description == "blocks.2.attn.hook_z")
        #expect(HookPoint.mlpIn(layer: 7).description == "blocks.7.mlp.hook_in")
        #expect(HookPoint.attnPattern(layer: 0).description == "blocks.0.attn.hook_pattern")
    }

    @Test func patchingAWholeLayerReproducesTheDonorExactly() throws {
        // Everything downstream of a full resid_pre patch is a deterministic function of it.
        let loaded = try SharedModel.get()
        let texas = try loaded.tokenize("The capital of Texas is")
        let france = try loaded.tokenize("The capital of France is")
        #expect(texas.count == france.count)
        let donor = try loaded.model.forward([france], cache: .points([.residPre(layer: 12)]), logits: .all)
        let patched = try loaded.model.forward([texas], hooks: [.residPre(layer: 12): Hooks.patch(from: donor.cache)], logits: .all)
        #expect(patched.logits.scalars == donor.logits.scalars)
    }

    @Test func patchingTheCountryTokenMovesTheAnswer() throws {
        let loaded = try SharedModel.get()
        let t = loaded.tokenizer
        let texas = try loaded.tokenize("The capital of Texas is")
        let france = try loaded.tokenize("The capital of France is")
        let position = try #require(zip(texas, france).enumerated().first { $0.element.0 != $0.element.1 }?.offset)
        let paris = try #require(t.encode(" Paris").first), austin = try #require(t.encode(" Austin").first)
        func gap(_ logits: Tensor) -> Float { logits.scalars[paris] - logits.scalars[austin] }
        let clean = try loaded.model.forward([texas]).logits
        let donor = try loaded.model.forward([france], cache: .points([.residPre(layer: 4)]))
        let patched = try loaded.model.forward([texas], hooks: [.residPre(layer: 4): Hooks.patch(from: donor.cache, positions: [position])]).logits
        #expect(gap(clean) < 0, "unpatched, Austin beats Paris")
        #expect(gap(patched) > gap(clean) + 2, "patching the country moves the answer toward Paris: \(gap(clean)) → \(gap(patched))")
        #expect(gap(patched) > 0)
    }

    @Test func steeringTheFinalResidualShiftsLogitsByTheUnembedding() throws {
        // With the final norm scale frozen at its clean value, adding δ·u to the last resid_post
        // moves logit t by δ · s · Σ_i w_i u_i W_U[t, i]: an independent linear computation.
        let loaded = try SharedModel.get()
        let m = loaded.model
        let tokens = try loaded.tokenize("Fact: Michael Jordan plays the sport of")
        let last = m.configuration.layers - 1
        let clean = try m.forward([tokens], cache: .points([.finalNormScale]))
        let scale = clean.cache[.finalNormScale]!.scalars.last!
        var random = TestRandom(seed: 60)
        let direction = random.normal([576])
        let delta: Float = 0.5
        let steered = try m.forward([tokens], hooks: [
            .residPost(layer: last): Hooks.steer(vector: direction, scale: delta, positions: [tokens.count - 1]),
            .finalNormScale: Hooks.patch(from: clean.cache),
        ]).logits
        let change = try steered - clean.logits
        let expected = try Tensor.matvec(m.unembedding, try (direction * m.finalNorm).scaled(by: delta * scale))
        assertClose(try change.reshaped([49_152]), expected, rtol: 1e-3, atol: 2e-3)
    }

    @Test func zeroAblatingAttentionAtOneLayerChangesOnlyLaterPositionsThroughIt() throws {
        let loaded = try SharedModel.get()
        let tokens = try loaded.tokenize("When Mary and John went to the store")
        let clean = try loaded.model.forward([tokens], logits: .all).logits
        let ablated = try loaded.model.forward([tokens], hooks: [.attnOut(layer: 2): Hooks.zeroAblate(positions: [5])], logits: .all).logits
        let v = 49_152
        #expect(Array(ablated.scalars[0..<(5 * v)]) == Array(clean.scalars[0..<(5 * v)]))
        #expect(Array(ablated.scalars[(5 * v)..<(6 * v)]) != Array(clean.scalars[(5 * v)..<(6 * v)]))
    }
}

extension Tensor {
    /// A fresh copy (so an identity hook really replaces the value).
    init(validating other: Tensor) { self = try! Tensor(shape: other.shape, scalars: Array(other.scalars)) }
}
