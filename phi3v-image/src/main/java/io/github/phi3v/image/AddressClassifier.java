package io.github.phi3v.image;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;

/**
 * Says whether an IP address is one a URL taken from untrusted input must not reach: anything that is not
 * a globally routed unicast address. Pure function of the address bytes (no DNS, no I/O), so it can be
 * tested for every form.
 *
 * <p>IPv6 addresses that carry an IPv4 address (IPv4-mapped {@code ::ffff:a.b.c.d}, IPv4-compatible
 * {@code ::a.b.c.d}, NAT64 {@code 64:ff9b::a.b.c.d} and 6to4 {@code 2002:AABB:CCDD::}) are judged by that
 * IPv4 address: connecting to them reaches it (the JDK itself turns a mapped literal into the IPv4 one; a
 * NAT64 or 6to4 gateway forwards to it). Teredo ({@code 2001::/32}) hides its IPv4 endpoints and is
 * refused as a whole.
 */
final class AddressClassifier {

    /** One refused range: the first {@code bits} bits of {@code prefix}. */
    private record Range(byte[] prefix, int bits, String category) {
    }

    private static final Range[] IPV4 = {
        v4(0, 0, 0, 0, 8, "unspecified (0.0.0.0/8)"),
        v4(10, 0, 0, 0, 8, "private (10.0.0.0/8)"),
        v4(100, 64, 0, 0, 10, "shared / carrier-grade NAT (100.64.0.0/10)"),
        v4(127, 0, 0, 0, 8, "loopback (127.0.0.0/8)"),
        v4(169, 254, 0, 0, 16, "link-local (169.254.0.0/16, cloud metadata services)"),
        v4(172, 16, 0, 0, 12, "private (172.16.0.0/12)"),
        v4(192, 0, 0, 0, 24, "reserved (192.0.0.0/24, IETF protocol assignments)"),
        v4(192, 0, 2, 0, 24, "reserved (192.0.2.0/24, documentation)"),
        v4(192, 168, 0, 0, 16, "private (192.168.0.0/16)"),
        v4(198, 18, 0, 0, 15, "reserved (198.18.0.0/15, benchmarking)"),
        v4(198, 51, 100, 0, 24, "reserved (198.51.100.0/24, documentation)"),
        v4(203, 0, 113, 0, 24, "reserved (203.0.113.0/24, documentation)"),
        v4(224, 0, 0, 0, 4, "multicast (224.0.0.0/4)"),
        v4(255, 255, 255, 255, 32, "broadcast (255.255.255.255)"),
        v4(240, 0, 0, 0, 4, "reserved (240.0.0.0/4)"),
    };

    private static final Range[] IPV6 = {
        v6("::", 128, "unspecified (::)"),
        v6("::1", 128, "loopback (::1)"),
        v6("64:ff9b:1::", 48, "local-use NAT64 (64:ff9b:1::/48)"),
        v6("100::", 64, "reserved (100::/64, discard)"),
        v6("2001::", 32, "Teredo tunnel (2001::/32)"),
        v6("2001:db8::", 32, "reserved (2001:db8::/32, documentation)"),
        v6("fc00::", 7, "unique-local (fc00::/7)"),
        v6("fe80::", 10, "link-local (fe80::/10)"),
        v6("fec0::", 10, "site-local (fec0::/10)"),
        v6("ff00::", 8, "multicast (ff00::/8)"),
    };

    private AddressClassifier() {
    }

    /**
     * Why an address is refused.
     *
     * @param address any IPv4 or IPv6 address
     * @return null for a globally routed unicast address, else the kind of address, e.g.
     *         {@code "loopback (127.0.0.0/8)"}; for an IPv6 form of an IPv4 address the IPv4 verdict,
     *         prefixed with the form
     */
    static String refusal(InetAddress address) {
        byte[] b = address.getAddress();
        if (address instanceof Inet4Address) {
            return match(b, IPV4);
        }
        if (!(address instanceof Inet6Address) || b.length != 16) {
            return "not an IP address";
        }
        String v6 = match(b, IPV6);
        if (v6 != null) {
            return v6;
        }
        String form = null;
        byte[] v4 = null;
        if (zeros(b, 0, 10) && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
            form = "IPv4-mapped";
            v4 = slice(b, 12);
        } else if (zeros(b, 0, 12)) {
            form = "IPv4-compatible"; // :: and ::1 were matched above
            v4 = slice(b, 12);
        } else if (startsWith(b, 0x00, 0x64, 0xff, 0x9b) && zeros(b, 4, 12)) {
            form = "NAT64";
            v4 = slice(b, 12);
        } else if (startsWith(b, 0x20, 0x02)) {
            form = "6to4";
            v4 = slice(b, 2);
        }
        if (v4 == null) {
            return null;
        }
        String inner = match(v4, IPV4);
        return inner == null ? null : form + " " + inner;
    }

    private static String match(byte[] address, Range[] ranges) {
        for (Range r : ranges) {
            if (prefixMatches(address, r.prefix, r.bits)) {
                return r.category;
            }
        }
        return null;
    }

    private static boolean prefixMatches(byte[] address, byte[] prefix, int bits) {
        int full = bits / 8;
        for (int i = 0; i < full; i++) {
            if (address[i] != prefix[i]) {
                return false;
            }
        }
        int rest = bits % 8;
        if (rest == 0) {
            return true;
        }
        int mask = (0xff << (8 - rest)) & 0xff;
        return (address[full] & mask) == (prefix[full] & mask);
    }

    private static boolean zeros(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean startsWith(byte[] b, int... prefix) {
        for (int i = 0; i < prefix.length; i++) {
            if ((b[i] & 0xff) != prefix[i]) {
                return false;
            }
        }
        return true;
    }

    private static byte[] slice(byte[] b, int from) {
        return new byte[] {b[from], b[from + 1], b[from + 2], b[from + 3]};
    }

    private static Range v4(int a, int b, int c, int d, int bits, String category) {
        return new Range(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d}, bits, category);
    }

    private static Range v6(String literal, int bits, String category) {
        try {
            // A literal: parsed without any name lookup.
            return new Range(InetAddress.getByName(literal).getAddress(), bits, category);
        } catch (java.net.UnknownHostException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
