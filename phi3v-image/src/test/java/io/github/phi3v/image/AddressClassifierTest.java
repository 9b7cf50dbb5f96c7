package io.github.phi3v.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

import org.junit.jupiter.api.Test;

/**
 * {@link AddressClassifier} as a pure function: IP literals only (parsed, never looked up, never
 * contacted).
 */
class AddressClassifierTest {

    private static String refusal(String literal) throws UnknownHostException {
        return AddressClassifier.refusal(InetAddress.getByName(literal));
    }

    /** An IPv6 address kept as IPv6 even where the JDK's parser would turn it into IPv4 (::ffff:a.b.c.d). */
    private static String refusalV6(String literal) throws UnknownHostException {
        byte[] b = new byte[16];
        byte[] parsed = InetAddress.getByName(literal).getAddress();
        if (parsed.length == 4) { // the JDK already mapped ::ffff:a.b.c.d to IPv4: rebuild the IPv6 form
            b[10] = (byte) 0xff;
            b[11] = (byte) 0xff;
            System.arraycopy(parsed, 0, b, 12, 4);
        } else {
            b = parsed;
        }
        return AddressClassifier.refusal(Inet6Address.getByAddress(null, b, -1));
    }

    @Test
    void ipv4Ranges() throws UnknownHostException {
        String[][] refused = {
            {"127.0.0.1", "loopback (127.0.0.0/8)"}, {"127.255.255.254", "loopback (127.0.0.0/8)"},
            {"10.0.0.1", "private (10.0.0.0/8)"}, {"10.255.255.255", "private (10.0.0.0/8)"},
            {"172.16.0.1", "private (172.16.0.0/12)"}, {"172.31.255.255", "private (172.16.0.0/12)"},
            {"192.168.1.1", "private (192.168.0.0/16)"},
            {"100.64.0.1", "shared / carrier-grade NAT (100.64.0.0/10)"},
            {"100.127.255.255", "shared / carrier-grade NAT (100.64.0.0/10)"},
            {"169.254.169.254", "link-local (169.254.0.0/16, cloud metadata services)"},
            {"0.0.0.0", "unspecified (0.0.0.0/8)"}, {"0.1.2.3", "unspecified (0.0.0.0/8)"},
            {"224.0.0.1", "multicast (224.0.0.0/4)"}, {"239.255.255.250", "multicast (224.0.0.0/4)"},
            {"255.255.255.255", "broadcast (255.255.255.255)"}, {"240.0.0.1", "reserved (240.0.0.0/4)"},
            {"192.0.2.1", "reserved (192.0.2.0/24, documentation)"},
            {"198.18.0.1", "reserved (198.18.0.0/15, benchmarking)"},
        };
        for (String[] c : refused) {
            assertEquals(c[1], refusal(c[0]), c[0]);
        }
        // Public, including the neighbours of every private range's edges.
        for (String ok : new String[] {"8.8.8.8", "1.1.1.1", "93.184.216.34", "9.255.255.255", "11.0.0.0",
            "172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0", "100.63.255.255", "100.128.0.0",
            "169.253.255.255", "169.255.0.0", "126.255.255.255", "128.0.0.0", "223.255.255.255", "1.0.0.0"}) {
            assertNull(refusal(ok), ok);
        }
    }

    @Test
    void ipv6Ranges() throws UnknownHostException {
        String[][] refused = {
            {"::1", "loopback (::1)"}, {"::", "unspecified (::)"},
            {"fe80::1", "link-local (fe80::/10)"}, {"febf:ffff::1", "link-local (fe80::/10)"},
            {"fc00::1", "unique-local (fc00::/7)"}, {"fd12:3456::1", "unique-local (fc00::/7)"},
            {"ff02::1", "multicast (ff00::/8)"}, {"ff05::1:3", "multicast (ff00::/8)"},
            {"fec0::1", "site-local (fec0::/10)"}, {"2001:db8::1", "reserved (2001:db8::/32, documentation)"},
            {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel (2001::/32)"},
            {"64:ff9b:1::a00:1", "local-use NAT64 (64:ff9b:1::/48)"},
            {"::127.0.0.1", "IPv4-compatible loopback (127.0.0.0/8)"},
            {"64:ff9b::10.0.0.1", "NAT64 private (10.0.0.0/8)"},
            {"64:ff9b::169.254.169.254", "NAT64 link-local (169.254.0.0/16, cloud metadata services)"},
            {"2002:a00:1::1", "6to4 private (10.0.0.0/8)"}, {"2002:7f00:1::", "6to4 loopback (127.0.0.0/8)"},
        };
        for (String[] c : refused) {
            InetAddress a = InetAddress.getByName(c[0]);
            assertInstanceOf(Inet6Address.class, a, c[0]);
            assertEquals(c[1], AddressClassifier.refusal(a), c[0]);
        }
        for (String ok : new String[] {"2001:4860:4860::8888", "2606:4700:4700::1111", "2a00:1450:4001::1",
            "64:ff9b::8.8.8.8", "2002:808:808::1", "fbff:ffff::1", "fe7f::1", "::ffff:8.8.8.8"}) {
            assertNull(refusal(ok), ok);
        }
    }

    /**
     * IPv4-mapped addresses: the JDK turns the literal into the IPv4 address (so the IPv4 verdict applies);
     * an {@link Inet6Address} holding the mapped form is judged by its IPv4 address too.
     */
    @Test
    void ipv4MappedForms() throws UnknownHostException {
        assertInstanceOf(Inet4Address.class, InetAddress.getByName("::ffff:127.0.0.1"));
        assertEquals("loopback (127.0.0.0/8)", refusal("::ffff:127.0.0.1"));
        assertEquals("private (10.0.0.0/8)", refusal("::ffff:10.0.0.1"));
        assertEquals("IPv4-mapped loopback (127.0.0.0/8)", refusalV6("::ffff:127.0.0.1"));
        assertEquals("IPv4-mapped private (10.0.0.0/8)", refusalV6("::ffff:10.0.0.1"));
        assertEquals("IPv4-mapped link-local (169.254.0.0/16, cloud metadata services)",
                refusalV6("::ffff:169.254.169.254"));
        assertEquals("IPv4-mapped unspecified (0.0.0.0/8)", refusalV6("::ffff:0.0.0.0"));
        assertNull(refusalV6("::ffff:8.8.8.8"));
    }
}
