package core

import (
	"crypto/rsa"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// MinRSABits is the smallest RSA key accepted (NIST SP 800-57: 3072 bits
// for security beyond 2030).
const MinRSABits = 3072

// CheckKeyPolicy says whether pk may be enrolled and log in: ed25519,
// ECDSA P-256/384/521, or RSA of at least MinRSABits (signing with SHA-2,
// which the SSH layer enforces). Enrolment and login run this same check,
// so nothing is enrolled that could never log in.
//
// Security-key (sk-) keys are refused: the policy would accept them only
// with user presence, and golang.org/x/crypto/ssh verifies their
// signatures without exposing or checking the user-presence flag, so the
// appliance cannot tell a touched key from an untouched one.
func CheckKeyPolicy(pk ssh.PublicKey) error {
	const fix = "; make an ed25519 key: ssh-keygen -t ed25519"
	if pk == nil {
		return Invalid("public_key", "missing")
	}
	switch t := pk.Type(); t {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return nil
	case ssh.KeyAlgoRSA:
		ck, ok := pk.(ssh.CryptoPublicKey)
		if !ok {
			return Invalid("public_key", "RSA key of unknown size"+fix)
		}
		rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
		if !ok {
			return Invalid("public_key", "RSA key of unknown size"+fix)
		}
		if n := rk.N.BitLen(); n < MinRSABits {
			return Invalid("public_key", fmt.Sprintf("RSA key of %d bits; at least %d are required (ssh-keygen -t rsa -b 4096)", n, MinRSABits))
		}
		return nil
	case ssh.InsecureKeyAlgoDSA:
		return Invalid("public_key", "DSA keys are not accepted (1024 bits, SHA-1 signatures)"+fix)
	case ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256:
		return Invalid("public_key", "security-key (sk-) keys are not accepted: this appliance cannot verify the user-presence (touch) flag of their signatures"+fix)
	default:
		if _, isCert := pk.(*ssh.Certificate); isCert {
			return Invalid("public_key", "certificates are not accepted; enrol the plain public key")
		}
		return Invalid("public_key", fmt.Sprintf("key type %q is not accepted", t)+fix)
	}
}
