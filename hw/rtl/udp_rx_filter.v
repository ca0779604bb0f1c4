// Ethernet II (optionally one 802.1Q tag) / IPv4 / UDP receive and filter.
//
// Frames arrive on s_axis starting at the destination MAC; every non-last
// beat is full. The UDP payload of frames addressed to cfg_dest_ip /
// cfg_dest_port leaves on m_axis cut-through, without realignment: the first
// payload beat has the header lanes nulled in tkeep (legal AXI4-Stream null
// bytes), so the kept lanes of every beat form one contiguous run. Ethernet
// padding after the IP total length is not forwarded.
//
// Every frame ends in exactly one stat_* strobe: passed or one drop reason.
// Header checks are made, in a fixed priority order, in the beat that
// completes the bytes they need. Two faults show only at the end of the
// frame (tuser set on the last beat, or fewer bytes than the IP total length);
// the payload already forwarded cannot be recalled, so the last payload beat
// is marked with m_axis_tuser = 1 and downstream discards that beat and any
// message left incomplete. When padding follows the payload, the last
// payload beat is held until the frame's last beat shows its tuser.
//
// Two pipeline stages, so no path runs from a header byte to the output.
// The check stage takes each beat and captures the header fields it brings;
// every check is made in the beat that completes its bytes and registered
// as a flag with the beat (fields that lie in an earlier beat than their
// check are read from registers). The IPv4 checksum is accumulated per beat
// in one's-complement carry-save form (two 16-bit vectors, end-around carry),
// one sum for both Ethernet lengths: the tag's beat adds byte 14's word
// either way and the sum restarts after a tag; which words of a beat are IP
// header words is registered a beat ahead, so no compare sits in front of
// the adders; the sum's bitwise tests are registered with it. 16-bit fields
// compared with a value are compared in every word lane as they arrive, and
// the payload's end is a beat flag registered a beat ahead (from a count
// down of beats) and a registered lane table: no compare chain follows a
// header byte. The verdict stage takes the beat a cycle later, with its
// flags: it picks the lanes holding the frame's fields, decides pass from registered flags (up to 64 bit, with the
// checksum result registered a beat earlier), and emits. The output register
// loads whenever it is free; its enable waits on no verdict. A stat stage a
// cycle after the verdict stage names the drop reason, in priority order,
// from the flags the verdict stage saw: the stat strobes come a cycle after
// the beat's verdict, off the output's paths.

module udp_rx_filter #(
    parameter DATA_WIDTH = 64,
    parameter KEEP_WIDTH = DATA_WIDTH/8
) (
    input  wire                  clk,
    input  wire                  rst,

    input  wire [DATA_WIDTH-1:0] s_axis_tdata,
    input  wire [KEEP_WIDTH-1:0] s_axis_tkeep,
    input  wire                  s_axis_tvalid,
    output wire                  s_axis_tready,
    input  wire                  s_axis_tlast,
    input  wire                  s_axis_tuser,

    output reg  [DATA_WIDTH-1:0] m_axis_tdata,
    output reg  [KEEP_WIDTH-1:0] m_axis_tkeep,
    output wire                  m_axis_tvalid,
    input  wire                  m_axis_tready,
    output reg                   m_axis_tlast,
    output reg                   m_axis_tuser,

    input  wire                  cfg_enable,
    input  wire [31:0]           cfg_dest_ip,
    input  wire [15:0]           cfg_dest_port,

    output reg                   stat_frame_in,
    output reg                   stat_frame_passed,
    output reg                   stat_drop_not_ipv4,
    output reg                   stat_drop_fragment,
    output reg                   stat_drop_checksum,
    output reg                   stat_drop_not_udp,
    output reg                   stat_drop_length,
    output reg                   stat_drop_filtered,
    output reg                   stat_drop_runt,
    output reg                   stat_drop_frame_error,
    output reg                   stat_drop_truncated
);

initial begin
    if (DATA_WIDTH != 32 && DATA_WIDTH != 64 && DATA_WIDTH != 128) begin
        $error("udp_rx_filter: DATA_WIDTH must be 32, 64 or 128");
        $finish;
    end
    if (KEEP_WIDTH*8 != DATA_WIDTH) begin
        $error("udp_rx_filter: KEEP_WIDTH must be DATA_WIDTH/8");
        $finish;
    end
end

// Longest header: Ethernet with 802.1Q (18) + IPv4 with options (60) + UDP (8).
localparam HDR_BYTES = 86;
localparam PTR_WIDTH = 17;  // frame byte offsets up to 18 + 65535
localparam LOG_KEEP = $clog2(KEEP_WIDTH);
localparam HDR_BEATS = (HDR_BYTES + KEEP_WIDTH - 1) / KEEP_WIDTH;
localparam WORDS = KEEP_WIDTH / 2;
localparam CSA_OPS = WORDS + 2;
localparam BEATS_WIDTH = PTR_WIDTH - LOG_KEEP;  // frame beat numbers

localparam [3:0] V_NONE      = 4'd0,
                 V_PASS      = 4'd1,
                 V_NOT_IPV4  = 4'd2,
                 V_FRAGMENT  = 4'd3,
                 V_CHECKSUM  = 4'd4,
                 V_NOT_UDP   = 4'd5,
                 V_LENGTH    = 4'd6,
                 V_FILTERED  = 4'd7;

reg  [HDR_BYTES*8-1:0] hdr_reg;
reg  [HDR_BEATS-1:0]   hdr_beat_is;   // one-hot beat number within the frame while in the header
reg  [HDR_BEATS-1:0]   hdr_beat_past; // thermometer: bit b set once beat b has gone by

// Registered from the header bytes seen so far (valid once their bytes are in).
reg                    vlan_reg;
reg                    ihl_ok_reg;
reg  [11:0]            udp_slot_is;   // one-hot slot: the UDP header at frame offset 34 + 4*slot
reg  [11:0]            udp_slot_upto; // thermometer: bit k set when the slot is at most k
reg                    fragment_reg;
reg                    not_udp_reg;
reg                    short_reg;     // IP total length below IHL*4 + 8
reg  [15:0]            udp_len_want_reg;   // the IP total length less the IP header's
reg                    udp_len_borrow_reg; // ... below zero
reg  [WORDS-1:0]       csum_word_en;  // the incoming beat's 16-bit words that are IP header words
reg                    csum_tag;      // the frame's tag, loaded in its beat: vlan_reg for the word enables alone
reg  [15:0]            csum_s, csum_c;  // carry-save one's-complement sum of the IP words so far
wire [15:0]            csum_s_next, csum_c_next;
// The sum's bitwise tests, registered with it: s ^ c, s & c, ~(s | c).
reg  [15:0]            csum_xor, csum_and, csum_nor;
// The last payload byte, at the IP total length + 13 (17 with a tag): the
// beats from the next one to its beat, counted down, and whether the next
// beat is its beat; the lanes up to it in its beat; past_end once a beat of
// the frame has held it.
reg  [15:0]            len_total_reg;   // the IP total length, registered in its beat
reg                    len_tag_reg;     // ... and the tag (vlan_reg's copy: no fan-out on its path)
reg  [BEATS_WIDTH-1:0] end_beats_left;
reg                    end_next;
reg  [KEEP_WIDTH-1:0]  last_lane_therm, last_lane_is;
reg                    past_end;

// The beat in the verdict stage, with what the check stage found in it.
reg                    chk_valid;
reg  [DATA_WIDTH-1:0]  chk_data;
reg  [KEEP_WIDTH-1:0]  chk_payload_keep;  // kept lanes at or past the payload's start
reg  [KEEP_WIDTH-1:0]  chk_before_end;    // lanes up to the payload's last byte
reg                    chk_emits;     // payload lanes, or the payload's end: a pass emits it
reg                    chk_first, chk_last, chk_user, chk_ends_payload;
reg                    chk_end_ahead, chk_end_lane_missing;  // the payload's end not in, by beat or by lane
reg                    chk_not_ethertype_ipv4, chk_have_ip20, chk_have_ip, chk_have_udp;
reg  [WORDS-1:0]       chk_port_hit, chk_udp_len_hit;  // [w]: the frame's port / UDP length is in lane w and matches
reg  [WORDS-1:0]       chk_ip_hi_hit, chk_ip_lo_hit;   // ... its IP destination's halves

// Verdict stage state.
reg                    decided;       // a check other than the checksum has ended this frame's header
reg                    passing;       // the frame passes
reg                    payload_done;  // last payload byte already forwarded
reg                    csum_ok_reg;   // the checksum result of the beat last taken
reg                    out_valid;
reg                    out_hold;      // last payload beat waits for the frame's end
reg                    port_seen, udp_len_seen;  // the frame's port / length matched in an earlier beat
reg                    ip_hi_seen, ip_lo_seen;   // ... its IP destination's halves

assign m_axis_tvalid = out_valid && !out_hold;
wire out_free = !out_valid || (m_axis_tready && !out_hold);
// While holding, the rest of the frame is padding and produces no output.
wire chk_take = chk_valid && (out_free || out_hold);
assign s_axis_tready = !chk_valid || chk_take;
wire s_fire = s_axis_tvalid && s_axis_tready;

// ---- check stage: header view, bytes seen so far merged with the incoming beat ----
wire [HDR_BYTES*8-1:0] hv;
genvar g;
generate
    for (g = 0; g < HDR_BYTES; g = g + 1) begin : g_hdr_view
        localparam integer BEAT = g / KEEP_WIDTH;
        assign hv[g*8 +: 8] = hdr_beat_is[BEAT]
                              ? s_axis_tdata[(g % KEEP_WIDTH)*8 +: 8] : hdr_reg[g*8 +: 8];
    end
endgenerate

// Byte p of the frame is in: in an earlier beat, or in this one and kept
// (every non-last beat is full; the last one's kept lanes start at lane 0).
// Flags of the registered beat thermometer and one-hot: no compare.
function have_at;
    input integer p;
    input [HDR_BEATS-1:0] past;
    input [HDR_BEATS-1:0] beat_is;
    input last;
    input [KEEP_WIDTH-1:0] keep;
    begin
        have_at = past[p / KEEP_WIDTH] || (beat_is[p / KEEP_WIDTH] && (!last || keep[p % KEEP_WIDTH]));
    end
endfunction

// Byte offset + 4 * slot is in, for the one-hot slot (the UDP header's place).
function have_slot_at;
    input integer offset;
    input [11:0] slot_is;
    input [HDR_BEATS-1:0] past;
    input [HDR_BEATS-1:0] beat_is;
    input last;
    input [KEEP_WIDTH-1:0] keep;
    integer u;
    begin
        have_slot_at = 1'b0;
        for (u = 0; u < 12; u = u + 1)
            have_slot_at = have_slot_at | (slot_is[u] & have_at(offset + 4*u, past, beat_is, last, keep));
    end
endfunction

// Fields at fixed offsets read the registered tag: offset 16 on lies in a
// later beat than the tag (bytes 12-13) at every width. Fields only the IP
// header's end reads (byte 33 or later, 37 with a tag) lie in earlier beats
// at every width: read from the registered bytes.
wire [15:0] ip_frag_r  = vlan_reg ? {hdr_reg[24*8 +: 8], hdr_reg[25*8 +: 8]} : {hdr_reg[20*8 +: 8], hdr_reg[21*8 +: 8]};
wire [7:0]  ip_proto_r = vlan_reg ? hdr_reg[27*8 +: 8] : hdr_reg[23*8 +: 8];
// The IP total length and version/IHL byte as the beat that brings the
// length's last byte (21 with a tag) has them: from that beat's lanes and
// the registered bytes before it, no merged view. What is made of them (the
// IHL test, the UDP header's slot, the UDP length a frame must carry,
// ip_total - 4 * IHL, and the payload's end) is loaded in that beat and
// held: every field and check that reads them lies in a later beat at every
// width. The subtract's borrow (the length below IHL*4) and its size give
// the length-short flag a beat later, still before the IP header's end.
localparam LEN_BEAT = 21 / KEEP_WIDTH;
function [7:0] len_byte;
    input integer at;
    input [DATA_WIDTH-1:0] beat;
    input [HDR_BYTES*8-1:0] earlier;
    len_byte = at / KEEP_WIDTH == LEN_BEAT ? beat[(at % KEEP_WIDTH)*8 +: 8] : earlier[at*8 +: 8];
endfunction
wire [7:0]  len_ver_ihl = vlan_reg ? len_byte(18, s_axis_tdata, hdr_reg) : len_byte(14, s_axis_tdata, hdr_reg);
wire [3:0]  len_ihl = len_ver_ihl[3:0];
wire [15:0] len_total = vlan_reg ? {len_byte(20, s_axis_tdata, hdr_reg), len_byte(21, s_axis_tdata, hdr_reg)}
                                 : {len_byte(16, s_axis_tdata, hdr_reg), len_byte(17, s_axis_tdata, hdr_reg)};
// in 4-byte units (the IHL's), with the borrow on top
wire [14:0] len_units_left = {1'b0, len_total[15:2]} - {11'd0, len_ihl};

// 16-bit fields compared with a value: every header word lies at an even
// offset, so each of the incoming beat's word lanes is compared as it
// arrives, and the lane that holds the frame's field (a lane one-hot from a
// table of the registered beat, tag and slot one-hots) is ANDed into its
// compare result, registered with the beat: the verdict
// stage ORs the lanes' hits with a match kept from an earlier beat.
reg [WORDS-1:0] lane_is_port, lane_is_udp_len, lane_is_ip_hi, lane_is_ip_lo, lane_is_tag, lane_is_ipv4;
reg [WORDS-1:0] port_lane, udp_len_lane;   // the frame's port / length word is in this lane
reg [WORDS-1:0] ip_hi_lane, ip_lo_lane;    // ... its IP destination's halves
integer wl, us, ub;
always @* begin
    for (wl = 0; wl < WORDS; wl = wl + 1) begin
        lane_is_port[wl]    = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == cfg_dest_port;
        lane_is_udp_len[wl] = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == udp_len_want_reg;
        lane_is_ip_hi[wl]   = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == cfg_dest_ip[31:16];
        lane_is_ip_lo[wl]   = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == cfg_dest_ip[15:0];
        lane_is_tag[wl]     = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == 16'h8100;
        lane_is_ipv4[wl]    = {s_axis_tdata[(2*wl)*8 +: 8], s_axis_tdata[(2*wl+1)*8 +: 8]} == 16'h0800;
    end
    // UDP slot u (header at 34 + 4u): port at 36 + 4u, length at 38 + 4u;
    // IP destination halves at 30 / 32, or 34 / 36 with a tag
    port_lane = {WORDS{1'b0}};
    udp_len_lane = {WORDS{1'b0}};
    ip_hi_lane = {WORDS{1'b0}};
    ip_lo_lane = {WORDS{1'b0}};
    for (ub = 0; ub < HDR_BEATS; ub = ub + 1) begin
        for (us = 0; us < 2; us = us + 1) begin
            if ((30 + 4*us) / KEEP_WIDTH == ub)
                ip_hi_lane[((30 + 4*us) % KEEP_WIDTH) / 2] = ip_hi_lane[((30 + 4*us) % KEEP_WIDTH) / 2]
                                                             | (hdr_beat_is[ub] & (vlan_reg == us[0]));
            if ((32 + 4*us) / KEEP_WIDTH == ub)
                ip_lo_lane[((32 + 4*us) % KEEP_WIDTH) / 2] = ip_lo_lane[((32 + 4*us) % KEEP_WIDTH) / 2]
                                                             | (hdr_beat_is[ub] & (vlan_reg == us[0]));
        end
        for (us = 0; us < 12; us = us + 1) begin
            if ((36 + 4*us) / KEEP_WIDTH == ub)
                port_lane[((36 + 4*us) % KEEP_WIDTH) / 2] = port_lane[((36 + 4*us) % KEEP_WIDTH) / 2]
                                                            | (hdr_beat_is[ub] & udp_slot_is[us]);
            if ((38 + 4*us) / KEEP_WIDTH == ub)
                udp_len_lane[((38 + 4*us) % KEEP_WIDTH) / 2] = udp_len_lane[((38 + 4*us) % KEEP_WIDTH) / 2]
                                                               | (hdr_beat_is[ub] & udp_slot_is[us]);
        end
    end
end

// The tag and the Ethernet type (bytes 12, and 16 after a tag): their
// comparisons kept per place, merged like the header bytes. The tag may
// share a beat with the Ethernet type, which reads it from here.
reg  [2:0] eth_words_reg;  // 12 is the tag, 12 is IPv4, 16 is IPv4
wire tag_at_12  = hdr_beat_is[12 / KEEP_WIDTH] ? lane_is_tag[(12 % KEEP_WIDTH) / 2] : eth_words_reg[0];
wire ipv4_at_12 = hdr_beat_is[12 / KEEP_WIDTH] ? lane_is_ipv4[(12 % KEEP_WIDTH) / 2] : eth_words_reg[1];
wire ipv4_at_16 = hdr_beat_is[16 / KEEP_WIDTH] ? lane_is_ipv4[(16 % KEEP_WIDTH) / 2] : eth_words_reg[2];
wire vlan_now   = tag_at_12;
wire ethertype_ipv4 = vlan_now ? ipv4_at_16 : ipv4_at_12;

// ---- IPv4 checksum: this beat's header words added to the carry-save pair ----
// One sum for both Ethernet lengths. The only word whose membership waits on
// the tag is byte 14's (IP header start untagged, the tag's TCI otherwise),
// in the tag's beat: it is always added, and after a tag the sum restarts
// from zero (a synchronous clear of its registers; no IP header word comes
// earlier), and byte 16's word (the Ethernet type after a tag) is left out
// of the next beat by the tag's compare, registered with the word enables.
// The IP header words of the beat with one-hot number beat_is: a word's
// frame offset is a constant per beat and lane, so the header's end is a
// compare of the IHL with a constant; the first 20 header bytes need no IHL.
// Registered a beat ahead: the words past those 20 bytes lie in a later beat
// than the IHL byte and two beats after the tag's at every width, so the
// registered tag holds for them. Up to 64 bit the beat before byte 34's comes
// after the length's beat, where the UDP header's slot thermometer is
// registered: a word from byte 34 on is a header word when it lies before the
// UDP header (one bit of the thermometer, the tag and IHL in it already).
localparam SLOT_AHEAD = 34 / KEEP_WIDTH - 1 > LEN_BEAT;
function [WORDS-1:0] ip_header_words;
    input [HDR_BEATS-1:0] beat_is;
    input [7:0] ihl_fields; // the IHL nibbles at bytes 18 and 14, valid from their beat on
    input with_tag;         // registered tag: valid two beats after the tag's
    input tag_now;          // the tag in this beat, for the next beat's byte 16
    input [11:0] slot_upto; // udp_slot_upto, where SLOT_AHEAD
    reg [31:0] ihl_above;   // thermometers per Ethernet length: bit k set when the IHL is above k
    integer b, w, at, eth, t;
    integer v;
    begin
        // a table of each IHL (constants only: no adder or carry chain)
        ihl_above = 32'd0;
        for (t = 0; t < 2; t = t + 1)
            for (v = 0; v < 16; v = v + 1)
                if (ihl_fields[4*t +: 4] == v[3:0])
                    ihl_above[16*t +: 16] = 16'hFFFF >> (16 - v);
        // an OR over the beats (beat_is is one-hot): no priority chain
        ip_header_words = {WORDS{1'b0}};
        for (b = 0; b < HDR_BEATS; b = b + 1)
            for (w = 0; w < WORDS; w = w + 1) begin
                at = b*KEEP_WIDTH + 2*w;
                if (at == 14 || (at >= 18 && at < 34))
                    // in the first 20 header bytes with or without a tag
                    ip_header_words[w] = ip_header_words[w] | beat_is[b];
                else if (at == 16)
                    ip_header_words[w] = ip_header_words[w] | (beat_is[b] & !tag_now);
                else if (at >= 34 && SLOT_AHEAD) begin
                    if ((at - 34) / 4 < 12)
                        ip_header_words[w] = ip_header_words[w] | (beat_is[b] & !slot_upto[(at - 34) / 4 % 12]);
                end else if (at >= 34)
                    for (t = 0; t < 2; t = t + 1) begin
                        eth = 14 + 4*t;
                        // the word's header offset at - eth is inside the header when below 4 * IHL
                        if (at < eth + 20)
                            ip_header_words[w] = ip_header_words[w] | (beat_is[b] & with_tag == t[0]);
                        else if (at < eth + 60)
                            ip_header_words[w] = ip_header_words[w]
                                                 | (beat_is[b] & with_tag == t[0] & ihl_above[16*t + (at - eth) / 4]);
                    end
            end
    end
endfunction

localparam [HDR_BEATS-1:0] FIRST_BEAT = 1;
wire [HDR_BEATS-1:0] next_beat_is = s_axis_tlast ? FIRST_BEAT : hdr_beat_is << 1;
// The IHL is read for the words from byte 34 (38 with a tag) on, a beat
// ahead: from the registered bytes where its byte came in an earlier beat
// than that (all but a tagged header at 128 bit).
wire [3:0] csum_ihl14 = hdr_reg[14*8 +: 4];
wire [3:0] csum_ihl18 = 18 / KEEP_WIDTH < 38 / KEEP_WIDTH - 1 ? hdr_reg[18*8 +: 4] : hv[18*8 +: 4];
// The sum starts from zero with each frame, and again after a tag.
wire csum_clear = s_axis_tlast || (hdr_beat_is[12 / KEEP_WIDTH] && tag_at_12);

// Full adder of three vectors mod 0xFFFF: sum and carry (rotated: 2^16 = 1).
function [31:0] csa3;
    input [15:0] x, y, z;
    reg [15:0] carry;
    begin
        carry = (x & y) | (x & z) | (y & z);
        csa3 = {{carry[14:0], carry[15]}, x ^ y ^ z};
    end
endfunction
// Six vectors counted per bit into three (weights 1, 2, 4, rotated): each
// count bit is a function of the six bits, one LUT6 (written as logic, so
// no adder is inferred).
function [47:0] count6;
    input [95:0] v;
    reg [31:0] lo, hi;
    reg [15:0] carry0, b1, b2;
    begin
        lo = csa3(v[0 +: 16], v[16 +: 16], v[32 +: 16]);
        hi = csa3(v[48 +: 16], v[64 +: 16], v[80 +: 16]);
        // lo/hi hold their carries rotated by one already
        carry0 = lo[15:0] & hi[15:0];
        b1 = lo[31:16] ^ hi[31:16] ^ {carry0[14:0], carry0[15]};
        b2 = (lo[31:16] & hi[31:16]) | (lo[31:16] & {carry0[14:0], carry0[15]}) | (hi[31:16] & {carry0[14:0], carry0[15]});
        count6 = {{b2[14:0], b2[15]}, b1, lo[15:0] ^ hi[15:0]};
    end
endfunction
generate
    if (WORDS == 8) begin : g_tree10
        // Ten operands would take five levels of full adders; the first
        // level's six sums are counted (one LUT6 a bit), so four.
        reg [16*WORDS-1:0] words;
        reg [31:0] fa_a, fa_b, fa_c, fa_e, fa_f;
        reg [47:0] cnt_d;
        integer w;
        always @* begin
            words = 0;
            for (w = 0; w < WORDS; w = w + 1)
                if (csum_word_en[w])
                    words[w*16 +: 16] = {s_axis_tdata[(2*w)*8 +: 8], s_axis_tdata[(2*w+1)*8 +: 8]};
            fa_a = csa3(words[0 +: 16], words[16 +: 16], words[32 +: 16]);
            fa_b = csa3(words[48 +: 16], words[64 +: 16], words[80 +: 16]);
            fa_c = csa3(words[96 +: 16], words[112 +: 16], csum_s);
            cnt_d = count6({fa_c, fa_b, fa_a});
            fa_e = csa3(csum_c, cnt_d[0 +: 16], cnt_d[16 +: 16]);
            fa_f = csa3(cnt_d[32 +: 16], fa_e[0 +: 16], fa_e[16 +: 16]);
        end
        assign csum_s_next = fa_f[0 +: 16];
        assign csum_c_next = fa_f[16 +: 16];
    end else begin : g_queue
        reg [16*CSA_OPS-1:0] csa_q;
        reg [15:0] csa_x, csa_y, csa_z, csa_carry;
        integer w, r;
        always @* begin
            csa_q = 0;
            csa_q[0 +: 16] = csum_s;
            csa_q[16 +: 16] = csum_c;
            for (w = 0; w < WORDS; w = w + 1)
                if (csum_word_en[w])
                    csa_q[(w+2)*16 +: 16] = {s_axis_tdata[(2*w)*8 +: 8], s_axis_tdata[(2*w+1)*8 +: 8]};
            // Wallace order: the three oldest operands become two new ones at the end.
            // 2^16 = 1 mod 0xFFFF, so the carry out of bit 15 wraps to bit 0.
            for (r = 0; r < CSA_OPS - 2; r = r + 1) begin
                csa_x = csa_q[0 +: 16];
                csa_y = csa_q[16 +: 16];
                csa_z = csa_q[32 +: 16];
                csa_carry = (csa_x & csa_y) | (csa_x & csa_z) | (csa_y & csa_z);
                csa_q = csa_q >> 48;
                csa_q[(CSA_OPS-3-r)*16 +: 16] = csa_x ^ csa_y ^ csa_z;
                csa_q[(CSA_OPS-2-r)*16 +: 16] = {csa_carry[14:0], csa_carry[15]};
            end
        end
        assign csum_s_next = csa_q[0 +: 16];
        assign csum_c_next = csa_q[16 +: 16];
    end
endgenerate

// ---- checks, each in the beat that completes its bytes ----
wire last = s_axis_tlast;
// The IP header's last byte is 33 + 4 * slot, the UDP header's 41 + 4 * slot
// (slot and IHL registered from the beat before: the IHL's byte comes two
// beats or more ahead of byte 33 at every width).
wire have_eth  = vlan_now ? have_at(17, hdr_beat_past, hdr_beat_is, last, s_axis_tkeep)
                          : have_at(13, hdr_beat_past, hdr_beat_is, last, s_axis_tkeep);
wire have_ip20 = vlan_reg ? have_at(37, hdr_beat_past, hdr_beat_is, last, s_axis_tkeep)
                          : have_at(33, hdr_beat_past, hdr_beat_is, last, s_axis_tkeep);
wire have_ip   = ihl_ok_reg && have_slot_at(33, udp_slot_is, hdr_beat_past, hdr_beat_is, last, s_axis_tkeep);
wire have_udp  = ihl_ok_reg && have_slot_at(41, udp_slot_is, hdr_beat_past, hdr_beat_is, last, s_axis_tkeep);

// Lanes at or past the payload start (42 + 4 * slot): a constant table of the
// one-hot beat and the registered slot thermometer; every lane past the
// header is. Monotonic in the lane, so the top lane says whether any is.
function [KEEP_WIDTH-1:0] payload_lanes;
    input [HDR_BEATS-1:0] beat_is;
    input [11:0] slot_upto;   // bit k set when the slot is at most k
    input past_header;
    integer b, ln, at;
    begin
        payload_lanes = {KEEP_WIDTH{past_header}};
        for (b = 0; b < HDR_BEATS; b = b + 1)
            for (ln = 0; ln < KEEP_WIDTH; ln = ln + 1) begin
                at = b*KEEP_WIDTH + ln;
                if (at >= 42 + 4*11)
                    payload_lanes[ln] = payload_lanes[ln] | beat_is[b];
                else if (at >= 42)
                    payload_lanes[ln] = payload_lanes[ln] | (beat_is[b] & slot_upto[(at - 42) / 4]);
            end
    end
endfunction

wire [KEEP_WIDTH-1:0] after_start = payload_lanes(hdr_beat_is, udp_slot_upto, hdr_beat_past[HDR_BEATS-1]);

// The payload's end by beat and lane. The beat holding the last byte is
// counted down: the count loads in the beat after the one that brings the IP
// total length, from the length registered there (a passing frame's payload
// ends at byte 41, its UDP header's last, or later: after the length's beat,
// and at 128 bit in the next beat at the earliest, which that beat flags
// itself; what a frame that does not pass makes of its end is never seen).
// "The next beat is the end beat" is registered a beat ahead, so
// at_end_beat is a register; the beats after it are flagged, and its lanes
// up to the last byte are a thermometer registered with the length.
// past_end waits for the IP total length (in by the first 20 IP header
// bytes; the payload ends after them). A last beat's kept lanes start at
// lane 0, so it is truncated when the payload ends past the beat or the last
// byte's lane is not kept: no count of kept lanes.
wire at_end_beat = end_next;
wire beat_reaches_end = at_end_beat || past_end;

// Whether the last byte, at the length + 13 (17 with a tag), lies in the
// given beat: the length in a range below 64, a table of its low six bits
// and the tag beside a test of its high bits for zero (no adder).
function end_in_beat;
    input [15:0] total;
    input with_tag;
    input integer beat;
    integer v, t;
    begin
        end_in_beat = 1'b0;
        for (t = 0; t < 2; t = t + 1)
            for (v = 0; v < 64; v = v + 1)
                if (with_tag == t[0] && total[5:0] == v[5:0])
                    end_in_beat = total[15:6] == 10'd0 && (v + 13 + 4*t) / KEEP_WIDTH == beat;
    end
endfunction
// Loaded in the beat after the length's: the beats from the next one to the
// end beat, the registered length plus a constant (one per tag).
localparam integer LOAD_BEAT_END = (LEN_BEAT + 2) * KEEP_WIDTH - 13;  // the least length ending in the next beat or later
localparam [PTR_WIDTH-1:0] END_FROM_LOAD = {PTR_WIDTH{1'b0}} - LOAD_BEAT_END[PTR_WIDTH-1:0];
localparam [PTR_WIDTH-1:0] END_FROM_LOAD_TAG = END_FROM_LOAD + {{(PTR_WIDTH-3){1'b0}}, 3'd4};
wire [PTR_WIDTH-1:0] end_from_load = {1'b0, len_total_reg} + (len_tag_reg ? END_FROM_LOAD_TAG : END_FROM_LOAD);

// The lanes up to the last byte's: a table of the IP total length's low
// bits (the lane is theirs plus a constant), not the adder's low bits.
function [KEEP_WIDTH-1:0] last_lanes;
    input [LOG_KEEP-1:0] total_low;
    input with_tag;
    integer v, t, ln;
    begin
        last_lanes = {KEEP_WIDTH{1'b0}};
        for (t = 0; t < 2; t = t + 1)
            for (v = 0; v < KEEP_WIDTH; v = v + 1)
                if (with_tag == t[0] && total_low == v[LOG_KEEP-1:0])
                    for (ln = 0; ln < KEEP_WIDTH; ln = ln + 1)
                        last_lanes[ln] = ln <= (v + 13 + 4*t) % KEEP_WIDTH;
    end
endfunction
wire [KEEP_WIDTH-1:0] last_lane_therm_next = last_lanes(len_total[LOG_KEEP-1:0], vlan_reg);

reg [KEEP_WIDTH-1:0] lane_before_end, payload_keep;
integer l;
always @* begin
    for (l = 0; l < KEEP_WIDTH; l = l + 1) begin
        lane_before_end[l] = !past_end && (!at_end_beat || last_lane_therm[l]);
        payload_keep[l] = s_axis_tkeep[l] && after_start[l];
    end
end

always @(posedge clk) begin
    if (chk_take)
        chk_valid <= 1'b0;

    if (s_fire) begin
        hdr_reg <= hv;
        hdr_beat_past <= hdr_beat_past | hdr_beat_is;
        hdr_beat_is <= hdr_beat_is << 1;
        vlan_reg <= vlan_now;
        eth_words_reg <= {ipv4_at_16, ipv4_at_12, tag_at_12};
        if (hdr_beat_is[LEN_BEAT]) begin
            ihl_ok_reg <= len_ver_ihl[7:4] == 4'd4 && len_ihl >= 4'd5;
            udp_slot_is <= 12'd1 << (len_ihl - 4'd5 + {3'd0, vlan_reg});
            udp_slot_upto <= 12'hFFF << (len_ihl - 4'd5 + {3'd0, vlan_reg});
        end
        fragment_reg <= ip_frag_r[13] || ip_frag_r[12:0] != 0;
        not_udp_reg <= ip_proto_r != 8'd17;
        short_reg <= udp_len_borrow_reg || udp_len_want_reg[15:3] == 13'd0;
        if (hdr_beat_is[LEN_BEAT])
            {udp_len_borrow_reg, udp_len_want_reg} <= {len_units_left, len_total[1:0]};
        end_beats_left <= end_beats_left - 1'b1;
        end_next <= end_beats_left == 1;
        if (hdr_beat_is[LEN_BEAT + 1]) begin
            end_beats_left <= end_from_load[PTR_WIDTH-1:LOG_KEEP];
            end_next <= end_in_beat(len_total_reg, len_tag_reg, LEN_BEAT + 2);
        end
        if (hdr_beat_is[LEN_BEAT]) begin
            len_total_reg <= len_total;
            len_tag_reg <= vlan_reg;
            // only at 128 bit can a passing frame's payload end in the next beat
            end_next <= 41 / KEEP_WIDTH <= LEN_BEAT + 1 && end_in_beat(len_total, vlan_reg, LEN_BEAT + 1);
            last_lane_therm <= last_lane_therm_next;
            last_lane_is <= last_lane_therm_next & ~(last_lane_therm_next << 1);
        end
        past_end <= past_end || (at_end_beat && have_ip20);
        csum_s <= csum_clear ? 16'd0 : csum_s_next;
        csum_c <= csum_clear ? 16'd0 : csum_c_next;
        csum_xor <= csum_s_next ^ csum_c_next;
        csum_and <= csum_s_next & csum_c_next;
        csum_nor <= ~(csum_s_next | csum_c_next);
        csum_word_en <= ip_header_words(next_beat_is, {csum_ihl18, csum_ihl14}, csum_tag, tag_at_12, udp_slot_upto);
        if (hdr_beat_is[12 / KEEP_WIDTH])
            csum_tag <= tag_at_12;

        chk_valid <= 1'b1;
        chk_data <= s_axis_tdata;
        chk_payload_keep <= payload_keep;
        chk_before_end <= lane_before_end;
        chk_emits <= s_axis_tlast || beat_reaches_end || after_start[KEEP_WIDTH-1];
        chk_first <= hdr_beat_is[0];
        chk_last <= s_axis_tlast;
        chk_user <= s_axis_tuser;
        chk_ends_payload <= s_axis_tlast || beat_reaches_end;
        chk_end_ahead <= !past_end && !at_end_beat;
        chk_end_lane_missing <= !past_end && (last_lane_is & s_axis_tkeep) == 0;
        chk_not_ethertype_ipv4 <= have_eth && !ethertype_ipv4;
        chk_have_ip20 <= have_ip20;
        chk_have_ip <= have_ip;
        chk_have_udp <= have_udp;
        chk_port_hit <= port_lane & lane_is_port;
        chk_udp_len_hit <= udp_len_lane & lane_is_udp_len;
        chk_ip_hi_hit <= ip_hi_lane & lane_is_ip_hi;
        chk_ip_lo_hit <= ip_lo_lane & lane_is_ip_lo;

        if (s_axis_tlast) begin
            end_next <= 1'b0;
            hdr_beat_past <= 0;
            hdr_beat_is <= 1;
            past_end <= 1'b0;
        end
    end

    if (rst) begin
        end_next <= 1'b0;
        hdr_beat_past <= 0;
        hdr_beat_is <= 1;
        past_end <= 1'b0;
        csum_s <= 16'd0;
        csum_c <= 16'd0;
        csum_word_en <= ip_header_words(FIRST_BEAT, 8'd0, 1'b0, 1'b0, 12'd0);
        chk_valid <= 1'b0;
    end
end

// ---- verdict stage: pass or not, then emit ----
// A header (nonzero: version 4) is correct when its sum is 0 mod 0xFFFF, and
// s + c lies in [0, 0x1FFFE]: 0, 0xFFFF (c = ~s) or 0x1FFFE (both all ones).
// The sums hold the verdict-stage beat's words: the check stage takes no
// other beat until this one moves on. Their bitwise tests are registered
// with them, so only three 16-bit ANDs are left here.
wire csum_ok = &csum_xor || &csum_and || &csum_nor;
// Up to 8 bytes a beat, the UDP header ends (8 bytes past the IP header) in
// a later beat than the IP header, whose sum is then final: a pass reads the
// checksum result registered with the beat before, not the reduction.
wire csum_ok_for_pass = KEEP_WIDTH <= 8 ? csum_ok_reg : csum_ok;

// The UDP port and length: matched in an earlier beat, or in this one's lane.
wire chk_udp_port_match = port_seen || chk_port_hit != 0;
wire chk_udp_len_match  = udp_len_seen || chk_udp_len_hit != 0;
wire chk_udp_length_bad = !chk_udp_len_match;
wire chk_ip_hi_match    = ip_hi_seen || chk_ip_hi_hit != 0;
wire chk_ip_lo_match    = ip_lo_seen || chk_ip_lo_hit != 0;
wire chk_ip_dest_match  = chk_ip_hi_match && chk_ip_lo_match;
wire chk_filter_ok      = cfg_enable && chk_ip_dest_match && chk_udp_port_match;

// Whether the header is decided by a check other than the checksum, and
// whether it passes (every check): flat ORs and ANDs of registered flags.
// The checksum needs no decided flag here: a bad sum stays bad, and a pass
// needs it good. The drop reason is named a cycle later (stat stage below).
wire known_if_ok  = chk_not_ethertype_ipv4 || (chk_have_ip20 && !ihl_ok_reg)
                    || (chk_have_ip && (fragment_reg || not_udp_reg || short_reg)) || chk_have_udp;
wire pass_if_ok   = chk_have_udp && !chk_not_ethertype_ipv4 && ihl_ok_reg
                    && !fragment_reg && !not_udp_reg && !short_reg && !chk_udp_length_bad && chk_filter_ok;
wire passing_now  = passing || (!decided && csum_ok_for_pass && pass_if_ok);
// A last beat is truncated when the payload ends past it or its last byte's lane is not kept.
wire chk_truncated = chk_end_ahead || chk_end_lane_missing;
wire frame_bad    = chk_user || chk_truncated;
wire emit         = passing_now && !payload_done && chk_emits;

always @(posedge clk) begin
    if (m_axis_tvalid && m_axis_tready)
        out_valid <= 1'b0;

    // The beat's fields load whenever the output register is free, emitted
    // or not (tvalid says which): their enable waits on no verdict.
    if (out_free) begin
        m_axis_tdata <= chk_data;
        m_axis_tkeep <= chk_payload_keep & chk_before_end;
        m_axis_tlast <= chk_ends_payload;
        m_axis_tuser <= chk_last && frame_bad;
    end

    if (chk_take) begin
        csum_ok_reg <= csum_ok;
        port_seen <= chk_udp_port_match && !chk_last;
        udp_len_seen <= chk_udp_len_match && !chk_last;
        ip_hi_seen <= chk_ip_hi_match && !chk_last;
        ip_lo_seen <= chk_ip_lo_match && !chk_last;
        decided <= (decided || known_if_ok) && !chk_last;
        passing <= passing_now && !chk_last;

        // A held beat means the payload is done: no emit until the frame ends.
        if (emit) begin
            out_valid <= 1'b1;
            out_hold <= chk_ends_payload && !chk_last;
            payload_done <= chk_ends_payload;
        end
        if (out_hold && chk_last) begin
            m_axis_tuser <= chk_user;
            out_hold <= 1'b0;
        end
        if (chk_last)
            payload_done <= 1'b0;
    end

    if (rst) begin
        decided <= 1'b0;
        passing <= 1'b0;
        payload_done <= 1'b0;
        out_valid <= 1'b0;
        out_hold <= 1'b0;
        port_seen <= 1'b0;
        udp_len_seen <= 1'b0;
        ip_hi_seen <= 1'b0;
        ip_lo_seen <= 1'b0;
    end
end

// ---- stat stage: the drop reason, a cycle after the verdict stage ----
// The beat's flags as the verdict stage saw them, and its checksum result
// (csum_ok_reg): the drop-reason priority and every stat strobe read
// registers only, off the verdict stage's paths.
reg st_valid, st_first, st_last, st_user, st_truncated, st_passing;
reg st_not_ethertype_ipv4, st_have_ip20, st_ihl_ok, st_have_ip, st_have_udp;
reg st_fragment, st_not_udp, st_short, st_udp_length_bad, st_filter_ok;
reg st_decided;  // a drop reason already given for this frame

reg [3:0] header_verdict;
always @* begin
    header_verdict = V_NONE;
    if (st_not_ethertype_ipv4)
        header_verdict = V_NOT_IPV4;
    else if (st_have_ip20 && !st_ihl_ok)
        header_verdict = V_NOT_IPV4;
    else if (st_have_ip && st_fragment)
        header_verdict = V_FRAGMENT;
    else if (st_have_ip && !csum_ok_reg)
        header_verdict = V_CHECKSUM;
    else if (st_have_ip && st_not_udp)
        header_verdict = V_NOT_UDP;
    else if (st_have_ip && st_short)
        header_verdict = V_LENGTH;
    else if (st_have_udp && st_udp_length_bad)
        header_verdict = V_LENGTH;
    else if (st_have_udp && !st_filter_ok)
        header_verdict = V_FILTERED;
    else if (st_have_udp)
        header_verdict = V_PASS;
end
wire st_known = header_verdict != V_NONE;

always @(posedge clk) begin
    stat_frame_in         <= 1'b0;
    stat_frame_passed     <= 1'b0;
    stat_drop_not_ipv4    <= 1'b0;
    stat_drop_fragment    <= 1'b0;
    stat_drop_checksum    <= 1'b0;
    stat_drop_not_udp     <= 1'b0;
    stat_drop_length      <= 1'b0;
    stat_drop_filtered    <= 1'b0;
    stat_drop_runt        <= 1'b0;
    stat_drop_frame_error <= 1'b0;
    stat_drop_truncated   <= 1'b0;

    st_valid <= chk_take;
    if (chk_take) begin
        st_first <= chk_first;
        st_last <= chk_last;
        st_user <= chk_user;
        st_truncated <= chk_truncated;
        st_passing <= passing_now;
        st_not_ethertype_ipv4 <= chk_not_ethertype_ipv4;
        st_have_ip20 <= chk_have_ip20;
        st_ihl_ok <= ihl_ok_reg;
        st_have_ip <= chk_have_ip;
        st_have_udp <= chk_have_udp;
        st_fragment <= fragment_reg;
        st_not_udp <= not_udp_reg;
        st_short <= short_reg;
        st_udp_length_bad <= chk_udp_length_bad;
        st_filter_ok <= chk_filter_ok;
    end

    if (st_valid) begin
        stat_frame_in <= st_first;
        if (!st_decided) begin
            case (header_verdict)
                V_NOT_IPV4: stat_drop_not_ipv4 <= 1'b1;
                V_FRAGMENT: stat_drop_fragment <= 1'b1;
                V_CHECKSUM: stat_drop_checksum <= 1'b1;
                V_NOT_UDP:  stat_drop_not_udp  <= 1'b1;
                V_LENGTH:   stat_drop_length   <= 1'b1;
                V_FILTERED: stat_drop_filtered <= 1'b1;
                default: ;
            endcase
        end
        st_decided <= (st_decided || st_known) && !st_last;
        if (st_last) begin
            if (st_passing) begin
                if (st_user)
                    stat_drop_frame_error <= 1'b1;
                else if (st_truncated)
                    stat_drop_truncated <= 1'b1;
                else
                    stat_frame_passed <= 1'b1;
            end else if (!st_decided && !st_known) begin
                if (st_user)
                    stat_drop_frame_error <= 1'b1;
                else
                    stat_drop_runt <= 1'b1;
            end
        end
    end

    if (rst) begin
        st_valid <= 1'b0;
        st_decided <= 1'b0;
        stat_frame_in <= 1'b0;
        stat_frame_passed <= 1'b0;
        stat_drop_not_ipv4 <= 1'b0;
        stat_drop_fragment <= 1'b0;
        stat_drop_checksum <= 1'b0;
        stat_drop_not_udp <= 1'b0;
        stat_drop_length <= 1'b0;
        stat_drop_filtered <= 1'b0;
        stat_drop_runt <= 1'b0;
        stat_drop_frame_error <= 1'b0;
        stat_drop_truncated <= 1'b0;
    end
end

endmodule
