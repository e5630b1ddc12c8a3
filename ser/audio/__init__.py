"""Audio in: decoding every format a call-recording system writes (`decoding`), mixing channels down without
letting one in opposite polarity cancel another (`mixing`), and the telephone channel conditions that turn studio
recordings into call audio (`channels`)."""
