import Testing

@testable import Gateway

@Suite struct BackendAPIKeyTests {
    @Test func keysCompareByEveryByte() {
        #expect(BackendAPI.constantTimeEqual(Array("secret-key".utf8), Array("secret-key".utf8)))
        #expect(!BackendAPI.constantTimeEqual(Array("secret-kez".utf8), Array("secret-key".utf8)))
        #expect(!BackendAPI.constantTimeEqual(Array("secret-ke".utf8), Array("secret-key".utf8)))
        #expect(!BackendAPI.constantTimeEqual(Array("secret-key\0".utf8), Array("secret-key".utf8)))
        #expect(!BackendAPI.constantTimeEqual([], Array("secret-key".utf8)))
    }
}
