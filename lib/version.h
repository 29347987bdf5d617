/* SPDX-License-Identifier: MIT */
#pragma once

/* The version every program prints; debian/changelog's newest entry must say the same (CI checks). */
#define EMPEROR_VERSION "0.1.0"
