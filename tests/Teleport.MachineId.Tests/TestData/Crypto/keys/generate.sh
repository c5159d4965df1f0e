#!/usr/bin/env bash
# Regenerates the key fixtures in this directory (test data only; never used outside tests).
# ssh-keygen (OpenSSH 9.2) and openssl (3.0) make keys in every encoding Teleport.MachineId imports.
set -euo pipefail
cd "$(dirname "$0")"
rm -f ./*.key ./*.pub ./*.pem
for spec in "rsa2048:rsa:2048" "rsa3072:rsa:3072" "ecdsa256:ecdsa:256" "ecdsa384:ecdsa:384" "ecdsa521:ecdsa:521" "ed25519:ed25519:256"; do
  IFS=: read -r name type bits <<<"$spec"
  # OpenSSH format (ssh-keygen default)
  ssh-keygen -q -t "$type" -b "$bits" -N '' -C "$name" -f "$name.openssh.key"
  mv "$name.openssh.key.pub" "$name.pub"
  if [ "$type" != ed25519 ]; then
    # PEM: PKCS#1 for RSA, SEC1 for ECDSA
    cp "$name.openssh.key" "$name.pem.key" && ssh-keygen -q -p -N '' -m PEM -f "$name.pem.key" >/dev/null
    # PKCS#8
    cp "$name.openssh.key" "$name.pkcs8.key" && ssh-keygen -q -p -N '' -m PKCS8 -f "$name.pkcs8.key" >/dev/null
  fi
done
# openssl-style files
openssl genpkey -algorithm ed25519 -out openssl-ed25519.pkcs8.key
openssl pkey -in openssl-ed25519.pkcs8.key -pubout -out openssl-ed25519.spki.pem
openssl ecparam -genkey -name secp384r1 -out openssl-ecdsa384.sec1-with-params.key
openssl pkey -in openssl-ecdsa384.sec1-with-params.key -pubout -out openssl-ecdsa384.spki.pem
openssl genrsa -out openssl-rsa2048.pkcs8.key 2048 2>/dev/null
openssl rsa -in openssl-rsa2048.pkcs8.key -traditional -out openssl-rsa2048.pkcs1.key 2>/dev/null
openssl rsa -in openssl-rsa2048.pkcs8.key -RSAPublicKey_out -out openssl-rsa2048.pkcs1-public.pem 2>/dev/null
openssl rsa -in openssl-rsa2048.pkcs8.key -pubout -out openssl-rsa2048.spki.pem 2>/dev/null
# Expected SSH public keys of the openssl keys, as ssh-keygen derives them.
for f in openssl-ecdsa384.sec1-with-params openssl-rsa2048.pkcs1; do
  chmod 600 "$f.key"; ssh-keygen -y -f "$f.key" > "${f%%.*}.pub"
done
chmod 644 ./*
