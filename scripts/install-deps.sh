#!/usr/bin/env bash
# Install what pingyi needs from Debian 12 when it is missing (idempotent; needs root or sudo).
#   build: Tesseract/Leptonica headers, libclang for bindgen, pkg-config
#   run:   Tesseract Chinese + English data, the CJK font the forms print with (Noto Sans CJK;
#          Droid Sans Fallback draws the OCR tests' simulated handwriting)
#   tests: poppler-utils (pdftoppm, pdffonts), qpdf (encrypted PDF fixture), libtiff-tools,
#          chromium + chromium-driver (the review page is tested in a real browser)
set -euo pipefail
pkgs=(libtesseract-dev libleptonica-dev libclang-dev clang pkg-config
      tesseract-ocr-chi-sim tesseract-ocr-eng fonts-noto-cjk fonts-droid-fallback
      poppler-utils qpdf libtiff-tools imagemagick chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs) first" >&2; exit 1; }
