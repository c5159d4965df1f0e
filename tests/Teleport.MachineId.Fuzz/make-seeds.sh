#!/usr/bin/env bash
# Rebuilds the seed corpora in Corpus/<target>/ from real fixtures: Teleport's own identity and
# YAML fixtures (../../../shared/conformance, copied into the test data), ssh-keygen/openssl output,
# and this repo's examples. Small on purpose: AFL++ grows the rest. Needs ssh-keygen, openssl, python3.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
data="$repo/tests/Teleport.MachineId.Tests/TestData"
out="$here/Corpus"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"; mkdir -p "$out"
t() { mkdir -p "$out/$1"; echo "$out/$1"; }
b64body() { python3 -c 'import sys,base64; sys.stdout.buffer.write(base64.b64decode(open(sys.argv[1]).read().split()[1]))' "$1"; }
pembody() { python3 -c '
import sys,base64,re
text=open(sys.argv[1]).read()
m=re.search(r"-----BEGIN [^-]+-----(.*?)-----END", text, re.S)
sys.stdout.buffer.write(base64.b64decode("".join(m.group(1).split())))' "$1"; }

# OpenSSH keys and certificates (user and host, each key type) from ssh-keygen.
cd "$tmp"
export DATA="$data" TMPD="$tmp"
ssh-keygen -q -t ed25519 -N '' -C ca -f ca
for kt in ed25519 ecdsa rsa; do
  ssh-keygen -q -t "$kt" -N '' -C "bot-$kt" -f "user_$kt"
  ssh-keygen -q -s ca -I "bot-$kt" -n root,ubuntu -V -5m:+1h -O extension:teleport-roles='{"version":"v1","roles":["bot-ci"]}' "user_$kt.pub"
done
ssh-keygen -q -t ecdsa -N '' -C host -f host_ecdsa
ssh-keygen -q -s ca -I host -h -n node.example.com,127.0.0.1 -V -5m:+1h host_ecdsa.pub

d=$(t ssh-certificate)
b64body "$data/IdentityFiles/key-cert.pub" >"$d/teleport-rsa-user"
b64body "$data/Ssh/teleport-key-cert.pub" >"$d/teleport-user"
b64body host_ecdsa-cert.pub >"$d/ssh-keygen-host-ecdsa"
for kt in ed25519 ecdsa rsa; do b64body "user_$kt-cert.pub" >"$d/ssh-keygen-$kt"; done

d=$(t ssh-public-key)
for f in "$data"/Crypto/keys/*.pub user_rsa.pub; do b64body "$f" >"$d/$(basename "$f" .pub)"; done

d=$(t openssh-private-key)
for f in "$data"/Crypto/keys/*.openssh.key user_rsa; do pembody "$f" >"$d/$(basename "$f")"; done

d=$(t pem)
for f in "$data"/Crypto/keys/*.pem.key "$data"/Crypto/keys/*.pkcs8.key "$data"/Crypto/keys/*.spki.pem \
         "$data"/Crypto/keys/openssl-ecdsa384.sec1-with-params.key "$data"/Crypto/keys/ed25519.openssh.key; do
  cp "$f" "$d/$(basename "$f")"
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj '/O=example.com/CN=example.com' -days 1 -out "$d/ca-bundle.pem" 2>/dev/null

d=$(t identity-file)
cp "$data"/IdentityFiles/* "$d/" 2>/dev/null || true
find "$d" -name '*.md' -delete

d=$(t key-lines)
cp "$data/Crypto/keys/ed25519.pub" "$d/authorized-key"
cp user_ecdsa-cert.pub "$d/certificate"
for v in tls_routing-alpn_upgrade no_tls_routing-no_alpn_upgrade; do
  cp "$data/OpenSsh/$v/known_hosts.golden" "$d/known_hosts-$v" 2>/dev/null || true
done

d=$(t tbot-yaml)
cp "$data"/Configuration/*.golden "$d/"
cp "$repo"/examples/tbot*.yaml "$d/"
# tbot's output and destination goldens are fragments: also as whole v2 configurations the reader accepts.
python3 - "$d" <<'PY'
import sys,os
d=sys.argv[1]
indent=lambda text,n: "".join(" "*n+l+"\n" if l else "\n" for l in text.splitlines())
head="version: v2\nproxy_server: teleport.example.com:443\nonboarding:\n  join_method: token\n  token: /var/lib/teleport/bot-token\n"
for name in ("identity-output-full","identity-output-minimal"):
    frag=open(f"{d}/{name}.golden").read()
    frag=frag.replace("type: memory","type: directory\n  path: /opt/machine-id")
    open(f"{d}/full-{name}.yaml","w").write(head+"storage:\n  type: memory\noutputs:\n  - "+indent(frag,4).lstrip())
for name in ("TestDestinationDirectory_YAML-full","TestDestinationDirectory_YAML-acl_readers"):
    frag=open(f"{d}/{name}.golden").read()
    open(f"{d}/full-{name}.yaml","w").write(head+"storage:\n"+indent(frag,2)+"outputs:\n  - type: identity\n    destination:\n"+indent(frag.replace("/my/path","/my/output"),6))
PY

d=$(t emulator-yaml)
cp "$repo/examples/emulator.yaml" "$d/"

d=$(t tls-identity)
python3 - "$d" <<'PY'
import sys,base64,re,glob,os
out=sys.argv[1]
n=0
for path in sorted(glob.glob(os.environ["DATA"]+"/IdentityFiles/*")):
    for m in re.finditer(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", open(path,errors="replace").read(), re.S):
        open(f"{out}/{os.path.basename(path)}-{n}.der","wb").write(base64.b64decode("".join(m.group(1).split()))); n+=1
PY

d=$(t webapi-json)
cat >"$d/find-tls-routing.json" <<'J'
{"proxy":{"kube":{"enabled":true,"listen_addr":"0.0.0.0:3026"},"ssh":{"listen_addr":"[::]:3023","tunnel_listen_addr":"0.0.0.0:3024","web_listen_addr":"0.0.0.0:3080","public_addr":"teleport.example.com:443","dial_timeout":30000000000},"db":{},"tls_routing_enabled":true,"assist_enabled":false},"auth":{"local":{"name":""},"private_key_policy":"none","device_trust":{},"has_motd_greeting":false,"signature_algorithm_suite":"balanced-v1"},"server_version":"18.0.0","min_client_version":"17.0.0-aa","cluster_name":"example.teleport.sh","edition":"oss","fips":false,"auto_update":{"tools_version":"18.0.0","tools_auto_update":false}}
J
cat >"$d/find-separate-ports.json" <<'J'
{"proxy":{"ssh":{"listen_addr":"0.0.0.0:3023","tunnel_listen_addr":"0.0.0.0:3024","web_listen_addr":"0.0.0.0:3080","ssh_public_addr":"ssh.example.com:3023","ssh_tunnel_public_addr":"tunnel.example.com:3024"},"tls_routing_enabled":false},"auth":{"signature_algorithm_suite":2},"server_version":"17.4.2","cluster_name":"old","fips":true}
J
printf '{"error":{"message":"bad token\\nsecond line"}}' >"$d/error.json"
python3 - "$d" <<'PY'
import sys,json,base64,glob,os,re
out=sys.argv[1]
pem=open(os.environ["DATA"]+"/IdentityFiles/tls.pem").read()
cert=re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n?", pem, re.S)
ssh=open(os.environ["TMPD"]+"/user_ed25519-cert.pub").read()
ca=open(os.environ["TMPD"]+"/ca.pub").read()
body={"ssh":base64.b64encode(ssh.encode()).decode(),"tls":base64.b64encode((cert.group(0) if cert else "").encode()).decode(),
      "tls_ca_certs":[base64.b64encode((cert.group(0) if cert else "").encode()).decode()],"ssh_ca_certs":[base64.b64encode(ca.encode()).decode()]}
open(out+"/host-credentials.json","w").write(json.dumps(body))
PY

d=$(t go-duration)
i=0; for v in 20m 1h30m -1.5h 300ms 1us 1µs 2h45m0.5s 0 2562047h47m16.854775807s .5s 1e3s; do printf '%s' "$v" >"$d/$i"; i=$((i+1)); done

d=$(t proxyssh-frame)
python3 - "$d" <<'PY'
import sys
out=sys.argv[1]
def varint(n):
    b=bytearray()
    while True:
        x=n&0x7f; n>>=7
        if n: b.append(x|0x80)
        else: b.append(x); return bytes(b)
def ld(field,body): return varint(field<<3|2)+varint(len(body))+body
details=ld(1, varint(1<<3|0)+varint(1))
open(out+"/details-fips","wb").write(details)
open(out+"/ssh-banner","wb").write(ld(2, ld(1, b"SSH-2.0-Teleport\r\n")))
open(out+"/agent","wb").write(ld(3, ld(1, b"\x00\x00\x00\x01\x0b")))
open(out+"/details-and-ssh-unknown","wb").write(details+ld(2, ld(1, bytes(range(64)))+varint(9<<3|0)+varint(300))+varint(15<<3|5)+b"\x01\x02\x03\x04")
PY

d=$(t client-hello)
python3 - "$d" <<'PY'
import sys,ssl
out=sys.argv[1]
for name,alpn in [("example.teleport.sh",["teleport-proxy-ssh-grpc","h2"]),("6b6b.teleport.cluster.local",["teleport-auth@6b6b"]),(None,["h2","http/1.1"])]:
    ctx=ssl.create_default_context(); ctx.check_hostname=False; ctx.verify_mode=ssl.CERT_NONE
    ctx.set_alpn_protocols(alpn)
    i,o=ssl.MemoryBIO(),ssl.MemoryBIO()
    s=ctx.wrap_bio(i,o,server_hostname=name)
    try: s.do_handshake()
    except ssl.SSLWantReadError: pass
    rec=o.read()
    body=rec[5+4:]  # record header, handshake header
    open(f"{out}/{name or 'no-sni'}","wb").write(body)
PY
# This SDK's own outputs (identity files, certificates, keys, ProxySSH messages).
dotnet run --project "$here/Teleport.MachineId.Fuzz.csproj" -- seed "$out"

echo "seeds: $(find "$out" -type f | wc -l) files, $(du -sh "$out" | cut -f1)"
