package keys

import (
	"golang.org/x/crypto/ssh"

	"mimamori/core"
)

// The SSH algorithm policy: modern key exchange, authenticated or
// encrypt-then-MAC ciphers, SHA-2 MACs, and client signatures by
// ed25519, ECDSA P-256/384/521 or RSA with SHA-2. Nothing with SHA-1
// (diffie-hellman-group14-sha1, hmac-sha1, ssh-rsa signatures), no DSA,
// no CBC. Which keys may log in at all is core.CheckKeyPolicy, the same
// check enrolment runs.
var (
	KeyExchanges = []string{
		ssh.KeyExchangeMLKEM768X25519,
		ssh.KeyExchangeCurve25519,
		ssh.KeyExchangeECDHP256, ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521,
		ssh.KeyExchangeDH16SHA512,
	}
	Ciphers = []string{
		ssh.CipherChaCha20Poly1305, ssh.CipherAES256GCM, ssh.CipherAES128GCM,
		ssh.CipherAES256CTR, ssh.CipherAES192CTR, ssh.CipherAES128CTR,
	}
	MACs = []string{
		ssh.HMACSHA256ETM, ssh.HMACSHA512ETM, ssh.HMACSHA256, ssh.HMACSHA512,
	}
	// SignatureAlgorithms a client may authenticate with. sk- keys are
	// absent: see core.CheckKeyPolicy.
	SignatureAlgorithms = []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSASHA512,
	}
)

// ApplyServerPolicy restricts cfg to the policy's algorithms.
func ApplyServerPolicy(cfg *ssh.ServerConfig) {
	cfg.KeyExchanges = append([]string(nil), KeyExchanges...)
	cfg.Ciphers = append([]string(nil), Ciphers...)
	cfg.MACs = append([]string(nil), MACs...)
	cfg.PublicKeyAuthAlgorithms = append([]string(nil), SignatureAlgorithms...)
}

// CheckKey is core.CheckKeyPolicy: nil if pk may be enrolled and log in,
// else an error that says why and what to use instead.
func CheckKey(pk ssh.PublicKey) error { return core.CheckKeyPolicy(pk) }
